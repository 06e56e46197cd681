"""Training memory: convinspect's predicted peak against XLA's compiled train step, and torchinfo's rule.

    python benchmarks/bench_training_memory.py [--models NAME,...] [--json FILE]
    python benchmarks/bench_training_memory.py --speed ROUNDS

`--speed`: what `--training` costs (fresh processes, medians): `model resnet50.keras --engine
analytic` with and without it (target <= 1.2x), and `--measure` beside the XLA compile inside it.

For each model at two input sizes and two batch sizes: the peak `convinspect model --training`
predicts (analytic engine, Adam), the peak XLA reports for Keras' own train step compiled on the
JAX backend (`--measure`: arguments + outputs - aliased + temporaries), and the error. Beside
them, torchinfo's "Estimated Total Size" computed from the same rows: input bytes, parameter
bytes, and twice the output bytes of the layers that have parameters. Also: the optimizer state
predicted against the bytes of Keras' own optimizer.variables, which must be equal, and what the
prediction and the measurement cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SIZES = (96, 128)
BATCHES = (4, 16)
TEXT_LENGTHS = (128, 256)
APPLICATIONS = ("MobileNetV2", "ResNet50", "EfficientNetB0", "DenseNet121", "VGG16", "NASNetMobile", "Xception",
                "ConvNeXtTiny")  # fmt: skip

_SAVE = """
import sys, keras
kind, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
L = keras.layers
if kind == "UNet":  # a Keras 3 U-Net: two downsampling stages, a bottleneck, two upsampling stages with skips
    x = inputs = keras.Input((size, size, 3))
    skips = []
    for filters in (32, 64):
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = L.BatchNormalization()(x)
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        skips.append(x)
        x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(128, 3, padding="same", activation="relu")(x)
    x = L.Dropout(0.3)(x)
    for filters, skip in zip((64, 32), reversed(skips)):
        x = L.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = L.Concatenate()([x, skip])
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = L.BatchNormalization()(x)
    model = keras.Model(inputs, L.Conv2D(2, 1, activation="softmax")(x), name="unet")
elif kind == "TextTransformer":  # a text classifier: embedding, two transformer blocks, pooled head
    x = inputs = keras.Input((size,), dtype="int32")
    x = L.Embedding(8000, 128)(x)
    for _ in range(2):
        a = L.MultiHeadAttention(num_heads=4, key_dim=32)(x, x)
        x = L.LayerNormalization()(L.Add()([x, L.Dropout(0.1)(a)]))
        f = L.Dense(128)(L.Dense(512, activation="gelu")(x))
        x = L.LayerNormalization()(L.Add()([x, L.Dropout(0.1)(f)]))
    x = L.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(x), name="text_transformer")
else:
    model = getattr(keras.applications, kind)(input_shape=(size, size, 3), weights=None)
model.save(path)
"""


def _save(kind: str, size: int, folder: Path) -> Path:
    path = folder / f"{kind}-{size}.keras"
    if not path.exists():
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run([sys.executable, "-c", _SAVE, kind, str(size), str(path)], check=True, capture_output=True,
                       env=env)  # fmt: skip
    return path


def _torchinfo(report: object) -> int:
    """torchinfo's Estimated Total Size: input + params + 2 x the outputs of layers with parameters."""
    rows = [r for r in report.rows if not r.container]  # type: ignore[attr-defined]
    inputs = sum(r.activation_bytes or 0 for r in rows if r.class_name == "InputLayer")
    params = sum(w.bytes for r in rows for w in r.weights)
    forward = sum(r.activation_bytes or 0 for r in rows if r.weights)
    return inputs + params + 2 * forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--models-dir", default=None, help="keep the saved models here (default: a temporary folder)")
    parser.add_argument("--speed", type=int, default=0, metavar="ROUNDS", help="time --training instead")
    args = parser.parse_args()
    if args.speed:
        speed(args.speed)
        return
    wanted = [m for m in args.models.split(",") if m] or [*APPLICATIONS, "UNet", "TextTransformer"]

    from convinspect.api import inspect_model
    from convinspect.core.model.training import TrainingRequest, parse_optimizer, training_memory
    from convinspect.engines.keras_training import measure

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")  # fmt: skip
    print(f"CPU: {cpu}; Adam; predicted with the analytic engine, measured by XLA on Keras' JAX backend")
    header = (f"{'model':16} {'input':>7} {'batch':>5} {'predicted':>11} {'XLA':>11} {'error':>7} "
              f"{'torchinfo':>11} {'error':>7} {'optimizer=':>10} {'predict s':>9} {'compile s':>9}")  # fmt: skip
    print(header)
    print("-" * len(header))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.models_dir or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for kind in wanted:
            sizes = TEXT_LENGTHS if kind == "TextTransformer" else SIZES
            for size in sizes:
                path = _save(kind, size, Path(tmp))
                for batch in BATCHES:
                    shape = f"{batch},{size}" if kind == "TextTransformer" else f"{batch},{size},{size},3"
                    started = time.perf_counter()
                    report = inspect_model(str(path), engine="analytic", input=shape,
                                           training=TrainingRequest(batch=batch))  # fmt: skip
                    predict_s = time.perf_counter() - started
                    memory = report.training
                    assert memory is not None and memory.peak is not None
                    # the JAX backend's int32 iteration: the prediction the measurement compiles
                    jax_memory = training_memory(report.rows, batch, parse_optimizer("adam"), "jax")
                    measured = measure(str(path), None, batch, memory.optimizer)
                    xla = measured["peak"]
                    torch_rule = _torchinfo(report)
                    row = {
                        "model": kind, "input": size, "batch": batch, "predicted": jax_memory.peak, "xla": xla,
                        "error": (jax_memory.peak - xla) / xla, "torchinfo": torch_rule,
                        "torchinfo_error": (torch_rule - xla) / xla,
                        "optimizer_equal": jax_memory.optimizer_bytes == measured["optimizer"],
                        "weights_equal": jax_memory.weights == measured["weights"],
                        "predict_seconds": predict_s, "compile_seconds": measured["compile_seconds"],
                        "no_rule": list(memory.unruled),
                    }  # fmt: skip
                    rows.append(row)
                    mib = 2**20
                    equal = row["optimizer_equal"] and row["weights_equal"]
                    cells = [f"{kind:16} {size:>7} {batch:>5}", f"{row['predicted'] / mib:>8.1f} MiB",
                             f"{xla / mib:>7.1f} MiB", f"{row['error'] * 100:>+6.1f}%", f"{torch_rule / mib:>7.1f} MiB",
                             f"{row['torchinfo_error'] * 100:>+6.1f}%", f"{equal!s:>10}", f"{predict_s:>9.2f}",
                             f"{measured['compile_seconds']:>9.1f}"]  # fmt: skip
                    print(" ".join(cells), flush=True)
    errors = [abs(r["error"]) for r in rows]
    theirs = [abs(r["torchinfo_error"]) for r in rows]
    print("-" * len(header))
    print(f"convinspect: median |error| {statistics.median(errors) * 100:.1f}%, worst {max(errors) * 100:.1f}% "
          f"({sum(e <= 0.15 for e in errors)} of {len(errors)} within 15%)")  # fmt: skip
    print(f"torchinfo's rule: median |error| {statistics.median(theirs) * 100:.1f}%, worst {max(theirs) * 100:.1f}%")
    equal = sum(r["optimizer_equal"] and r["weights_equal"] for r in rows)
    print(f"optimizer state and weights equal to Keras' variables: {equal} of {len(rows)}")
    print(f"prediction: median {statistics.median(r['predict_seconds'] for r in rows):.2f} s; "
          f"XLA compile: median {statistics.median(r['compile_seconds'] for r in rows):.1f} s")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def speed(rounds: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from timing import run_once

    cli = [sys.executable, "-m", "convinspect", "model"]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(_save("ResNet50", 224, Path(tmp)))
        plain = [*cli, path, "--engine", "analytic", "-F", "json"]
        training = [*plain, "--training"]
        times = {"model": [], "training": []}
        for _ in range(rounds):  # interleaved, so that the machine's noise falls on both
            times["model"].append(run_once(plain)[0])
            times["training"].append(run_once(training)[0])
        base, with_training = statistics.median(times["model"]), statistics.median(times["training"])
        print(f"ResNet-50 (224x224), analytic engine, {rounds} fresh processes each, medians:")
        print(f"  model                 {base:.3f} s")
        print(f"  model --training      {with_training:.3f} s  ({with_training / base:.2f}x; target <= 1.2x)")
        started = time.perf_counter()
        out = subprocess.run(
            [*training, "--measure", "--batch", "8"], capture_output=True, text=True, check=True
        ).stdout
        wall = time.perf_counter() - started
        compile_s = json.loads(out)["totals"]["training"]["measured"]["compile_seconds"]
        print(f"  --measure --batch 8   {wall:.1f} s wall, of which XLA's compile {compile_s:.1f} s")


if __name__ == "__main__":
    main()
