"""The runtime rules, re-found by experiment: random configs run for real on both CPU kernel sets.

For each setting of TF_ENABLE_ONEDNN_OPTS (0: plain kernels, 1: oneDNN), a fresh process draws
the same random configurations (ten kinds, six dtype policies, both data formats, strides,
dilation, groups, output padding), calls each real layer eagerly, and compares TensorFlow's
verdict with the analytic engine's prediction for the kernel set that ran it. Each forward
pass runs in a worker process that may die (convinspect.isolated(), engines/worker.py), so an
outcome is one of three: runs, refused (a rule), or crash (the kernel killed its process, and
the signal). Prints the count of each outcome per setting side by side, every mismatch, and
every crash with the CPU's features (a crash seen here belongs in runtime.KNOWN_CRASHES).
Also times the machine detection the analytic engine does (no TensorFlow).

    .venv/bin/python benchmarks/runtime_rules.py [configs, default 1500] [seed, default 0]
"""

from __future__ import annotations

import collections
import json
import os
import random
import statistics
import subprocess
import sys
import time
from typing import Any

KINDS = ["conv1d", "conv2d", "conv3d", "depthwise-conv1d", "depthwise-conv2d", "separable-conv1d",
         "separable-conv2d", "conv1d-transpose", "conv2d-transpose", "conv3d-transpose"]  # fmt: skip
DTYPES = ["float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"]


def draw(r: random.Random) -> dict[str, Any]:
    kind = r.choice(KINDS)
    rank = int(kind.split("conv")[1][0])
    channels, first = r.randint(1, 4), r.random() < 0.5
    spatial = [r.randint(2, 7) for _ in range(rank)]
    strided = r.random() < 0.5

    def per_axis() -> str:
        return ",".join(str(r.randint(1, 2)) for _ in range(rank))

    options: dict[str, Any] = {
        "layer": kind,
        "input": ",".join(map(str, [1, *([channels, *spatial] if first else [*spatial, channels])])),
        "kernel": ",".join(str(r.randint(1, 3)) for _ in range(rank)),
        "strides": per_axis() if strided else "1",
        "dilation": "1" if strided and not kind.startswith(("depthwise", "separable")) else per_axis(),
        "padding": r.choice(["valid", "same", "causal"] if kind == "conv1d" else ["valid", "same"]),
        "data_format": "channels_first" if first else "channels_last",
        "dtype": r.choice(DTYPES),
    }
    if not kind.startswith("depthwise"):
        options["filters"] = r.randint(1, 4)
    if kind.startswith("conv") and "transpose" not in kind:
        options["groups"] = r.choice([g for g in (1, 2) if channels % g == 0 and options["filters"] % g == 0])
    if "transpose" in kind and strided:
        options["output_padding"] = r.choice([None, "0", "1"])
    return {k: v for k, v in options.items() if v is not None}


def worker(count: int, seed: int) -> None:
    """One setting: a JSON line per valid config (TensorFlow's verdict and the prediction)."""
    from convinspect import Forward, InvalidInput, inspect_layer, parse_spec
    from convinspect.engines import worker as isolation

    r = random.Random(seed)
    for _ in range(count):  # each in a worker: a config whose kernel kills the process is an outcome
        options = draw(r)
        try:
            spec = parse_spec(options)
            observed = isolation.inspect(spec, backend="tensorflow", forward=Forward.EAGER, budget=1 << 28,
                                      seed=None, run_known_crashes=True).runtime  # fmt: skip
        except InvalidInput:
            continue
        assert observed.kernels is not None
        predicted = inspect_layer(spec, engine="analytic", cpu_kernels=str(observed.kernels.kernels)).runtime
        print(json.dumps({"options": options, "kernels": str(observed.kernels.kernels), "rule": observed.rule,
                          "predicted": predicted.rule, "reason": observed.reason,
                          "signal": observed.signal}), flush=True)  # fmt: skip


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    from convinspect.engines import machine as detection
    from convinspect.engines.machine import this_machine

    machine = this_machine()
    timings = []
    for _ in range(20):  # uncached: /proc/cpuinfo read and parsed each time
        start = time.perf_counter()
        detection.cpu_facts.cache_clear()
        detection._parsed.cache_clear()
        detection.this_machine()
        timings.append(time.perf_counter() - start)
    print(f"CPU: {machine.cpu} ({machine.system} {machine.arch}); TF_ENABLE_ONEDNN_OPTS={machine.env}")
    wanted = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile")
    print("flags: " + " ".join(f for f in wanted if machine.has(f)))
    print(f"machine detection (no TensorFlow): median {statistics.median(timings) * 1000:.2f} ms over 20 reads")
    counts: dict[str, collections.Counter[str]] = {}
    mismatches: list[str] = []
    crashes: list[str] = []
    for setting in ("0", "1"):
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run([sys.executable, __file__, "--worker", str(count), str(seed)], env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        tally: collections.Counter[str] = collections.Counter()
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            tally[f"{row['kernels']}: {row['rule'] or 'runs'}"] += 1
            tally["valid configs"] += 1
            if row["rule"] != row["predicted"]:
                mismatches.append(f"TF_ENABLE_ONEDNN_OPTS={setting}: {row}")
            if row["rule"] == "crash":
                crashes.append(f"TF_ENABLE_ONEDNN_OPTS={setting}: {row['kernels']} {row['signal']} {row['options']}")
        counts[setting] = tally
    keys = sorted(set(counts["0"]) | set(counts["1"]), key=lambda k: (k != "valid configs", k))
    print(f"\n{'kernels: rule':40} {'OPTS=0':>8} {'OPTS=1':>8}")
    for key in keys:
        print(f"{key:40} {counts['0'][key]:>8} {counts['1'][key]:>8}")
    print(f"\nmismatches between TensorFlow and the prediction: {len(mismatches)}")
    for line in mismatches:
        print("  " + line)
    print(f"\ncrashes (outcome 3 of 3) on this CPU: {len(crashes)}")
    for line in crashes:
        print("  " + line)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
