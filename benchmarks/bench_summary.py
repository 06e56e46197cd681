"""convinspect.summary(model) against Keras' own model.summary(), in one process where the model
already exists: what the call costs on top of what Keras already did.

Builds keras.applications.ResNet50(weights=None) once, then times each call N times, interleaved
(so machine noise hits both alike), and prints the medians side by side with their ratio.
Keras' summary prints through print_fn into a list (no terminal), as convinspect renders to text.

Target (issue 28): convinspect.summary at most 0.5x model.summary().

Usage: python benchmarks/bench_summary.py [N] [--application NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=7)
    parser.add_argument("--application", default="ResNet50")
    args = parser.parse_args()

    import keras

    import convinspect

    model = getattr(keras.applications, args.application)(weights=None)
    lines: list[str] = []
    keras_summary = lambda: model.summary(print_fn=lambda line, *_, **__: lines.append(line))  # noqa: E731
    ours = lambda: str(convinspect.summary(model))  # noqa: E731  (the report, rendered as print() shows it)
    ours_report = lambda: convinspect.summary(model)  # noqa: E731  (the typed report alone)
    calls = {"model.summary()": keras_summary, "str(convinspect.summary(model))": ours,
             "convinspect.summary(model)": ours_report}  # fmt: skip
    for call in calls.values():  # warm: imports, Rich, the first trace
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["model.summary()"])
    print(f"{args.application} (weights=None, {len(model.layers)} layers), {args.rounds} rounds, medians, in-process")
    print(f"{'call':<36}{'median s':>10}{'× model.summary()':>20}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<36}{median:>10.3f}{median / base:>20.2f}")
    print("target: convinspect.summary at most 0.5x model.summary()")


if __name__ == "__main__":
    main()
