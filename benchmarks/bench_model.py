"""convinspect model on ResNet-50's configuration: analytic vs Keras engine vs a bare Keras script.

Saves keras.applications.ResNet50(weights=None) once, as a .keras archive, then runs each
command N times as a fresh process (interleaved, so machine noise hits all alike) and prints
median wall time and peak RSS side by side, with ratios.

Targets (issue 11): analytic at most 0.3 s and at least 10x faster than the Keras engine on the
same file; the Keras engine at most 1.2x a bare script that loads the model and counts its params.

Usage: python benchmarks/bench_model.py [N] [--application NAME] [--against REF]
  --against REF  also runs both engines from an earlier commit (a temporary git worktree), side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import run_once, worktree

# What the Keras engine does without --load-weights: build the model from config.json, count.
BARE = """
import json, os, sys, zipfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
with zipfile.ZipFile(sys.argv[1]) as archive:
    config = json.loads(archive.read("config.json"))
model = keras.saving.deserialize_keras_object(config, safe_mode=True)
print(model.count_params(), [tuple(layer.output.shape) for layer in model.layers][-1])
"""

SAVE = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

getattr(keras.applications, sys.argv[2])(weights=None).save(sys.argv[1])
"""

# keras_hub's ResNet-50 backbone (a subclass of Functional), from constructor arguments.
SAVE_HUB = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras_hub

keras_hub.models.ResNetBackbone(
    input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
    stackwise_num_blocks=[3, 4, 6, 3], stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
    use_pre_activation=False, image_shape=(224, 224, 3),
).save(sys.argv[1])
"""
# The bare script for a keras_hub archive: Keras' own loader (the class is rebuilt from its arguments).
BARE_HUB = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras, keras_hub
model = keras.saving.load_model(sys.argv[1], compile=False)
print(model.count_params())
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=7)
    parser.add_argument("--application", default="ResNet50")
    parser.add_argument("--against", metavar="REF", help="an earlier commit to compare with")
    parser.add_argument("--keras-hub", action="store_true", help="keras_hub's ResNet-50 backbone instead")
    args = parser.parse_args()
    if args.keras_hub:
        args.application = "keras_hub ResNetBackbone (ResNet-50)"
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        path = str(Path(tmp) / "model.keras")
        save = [SAVE_HUB, path] if args.keras_hub else [SAVE, path, args.application]
        subprocess.run([sys.executable, "-c", *save], check=True, capture_output=True)
        cli = [sys.executable, "-m", "convinspect", "model", path, "--format", "json"]
        if args.keras_hub:
            cli += ["--import", "keras_hub"]
        bare = [sys.executable, "-c", BARE_HUB if args.keras_hub else BARE, path]
        commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "bare keras script (load config, count_params)": (bare, None),
            "convinspect model (keras engine)": (cli, None),
            "convinspect model --engine analytic" + (" (refuses)" if args.keras_hub else ""): (_analytic(cli), None),
        }
        if args.against:
            env = {**os.environ, "PYTHONPATH": str(stack.enter_context(worktree(args.against)) / "src")}
            commands[f"{args.against}: model (keras engine)"] = (cli, env)
            commands[f"{args.against}: model --engine analytic"] = (_analytic(cli), env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        memory: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (argv, env_) in commands.items():
                wall, rss = run_once(argv, env_, ok=(0, 2) if args.keras_hub else (0,))
                times[name].append(wall)
                memory[name].append(rss)
    median = {name: statistics.median(values) for name, values in times.items()}
    bare, keras_engine, analytic = list(median.values())[:3]
    print(f"{args.application} (weights=None) saved as .keras; {args.rounds} rounds, medians")
    print(f"{'command':<48} {'wall':>8} {'peak RSS':>10}")
    for name in commands:
        print(f"{name:<48} {median[name]:>7.3f}s {statistics.median(memory[name]):>7.0f} MiB")
    print(f"keras engine / bare script:     {keras_engine / bare:.2f}x  (target <= 1.2x)")
    print(f"keras engine / analytic engine: {keras_engine / analytic:.1f}x  (target >= 10x)")
    print(f"analytic engine:                {analytic:.3f}s  (target <= 0.3 s)")
    if args.against:
        before_keras, before_analytic = list(median.values())[3:]
        print(f"keras engine / {args.against}'s:      {keras_engine / before_keras:.2f}x")
        print(f"analytic engine / {args.against}'s:   {analytic / before_analytic:.2f}x")


def _analytic(cli: list[str]) -> list[str]:
    """The analytic engine on the same file (it refuses a keras_hub archive in one line: exit 2, timed too)."""
    return [arg for arg in cli if arg not in ("--import", "keras_hub")] + ["--engine", "analytic"]


if __name__ == "__main__":
    main()
