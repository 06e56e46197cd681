"""`convinspect solve` with the default bounds for the 1D, 2D and 3D transposed kinds, against the analytic
engine's start-up (`build --engine analytic`).

Each command is a fresh process, interleaved; prints medians and each solve's time above the start-up.
Target (issue 13): the analytic start-up plus at most 50 ms.

Usage: python benchmarks/bench_solve.py [N]
       python benchmarks/bench_solve.py --coverage K [--seed S]

--coverage K draws K random transposed layers (benchmarks/runtime_rules.py's draws), keeps those real
Keras accepts, takes the shape Keras gives as the target, and counts how many targets solve finds
(and whether the original settings are among the solutions), by default and with --runs-only, and how
many of the default's first solutions TensorFlow's CPU kernels refuse.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from timing import run_once

CLI = [sys.executable, "-m", "convinspect"]
COMMANDS = {
    "build --engine analytic (start-up)": [*CLI, *"build -f 16 -k 3 -i 1,12,12,32 -e analytic -F json".split()],
    "solve conv1d-transpose 12 -> 25": [*CLI, *"solve -l conv1d-transpose -i ?,12,32 -t ?,25,16 -F json".split()],
    "solve conv2d-transpose 12x12 -> 25x25": [
        *CLI,
        *"solve -l conv2d-transpose -i ?,12,12,32 -t ?,25,25,16 -F json".split(),
    ],
    "solve conv3d-transpose 6^3 -> 12^3": [
        *CLI,
        *"solve -l conv3d-transpose -i ?,6,6,6,8 -t ?,12,12,12,4 -F json".split(),
    ],
    "solve conv3d-transpose 5^3 -> 11^3 (none)": [
        *CLI,
        *"solve -l conv3d-transpose -i ?,5,5,5,8 -t ?,11,11,11,4 -F json --max-stride 2".split(),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", nargs="?", type=int, default=15)
    parser.add_argument("--coverage", type=int, metavar="K", help="targets made by real Keras (see above)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.coverage:
        return coverage(args.coverage, args.seed)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, argv in COMMANDS.items():
            times[name].append(run_once(argv, ok=(0, 1))[0])
    median = {name: statistics.median(values) for name, values in times.items()}
    base = next(iter(median.values()))
    print(f"{args.rounds} rounds, medians (fresh processes)")
    for name, value in median.items():
        extra = "" if value is base else f"  (+{(value - base) * 1000:.0f} ms over the start-up; target <= 50 ms)"
        print(f"{name:<44} {value * 1000:>6.0f} ms{extra}")


def coverage(count: int, seed: int) -> None:
    import random

    import keras
    from runtime_rules import draw

    from convinspect import InvalidInput, parse_spec, run_solve

    r = random.Random(seed)
    targets = solved = only = offered = offered_only = refused_first = 0
    while targets < count:
        options = draw(r)
        if "transpose" not in options["layer"]:
            continue
        options = {k: v for k, v in options.items() if k not in ("dtype",)}
        try:
            spec = parse_spec(options)
            layer = getattr(keras.layers, spec.kind.class_name)(**spec.keras_kwargs())
            shape = layer.compute_output_shape(spec.input_shape)
        except (InvalidInput, ValueError):
            continue
        targets += 1
        target = ",".join(str(d) for d in shape)
        fixed = {"layer": options["layer"], "input": options["input"], "data_format": options["data_format"]}
        c = spec.config
        settings = (c.kernel_size, c.strides, c.dilation_rate, c.padding, c.output_padding)

        def offers(result: object, settings: tuple[object, ...] = settings) -> bool:
            return any((s.spec.config.kernel_size, s.spec.config.strides, s.spec.config.dilation_rate,
                        s.spec.config.padding, s.spec.config.output_padding) == settings
                       for s in result.solutions)  # type: ignore[attr-defined]  # fmt: skip

        default = run_solve(fixed, target, limit=1000)
        runs = run_solve(fixed, target, limit=1000, runs_only=True)
        solved += bool(default.solutions)
        only += bool(runs.solutions)
        offered += offers(default)
        offered_only += offers(runs)
        refused_first += bool(default.solutions) and default.solutions[0].refused is not None
    print(f"{count} targets made by real Keras {keras.__version__} from random transposed layers (seed {seed})")
    print(f"{'':34} {'default':>9} {'--runs-only':>12}")
    print(f"{'targets with a solution':34} {solved:>9} {only:>12}")
    print(f"{'original settings among them':34} {offered:>9} {offered_only:>12}")
    print(f"targets whose best solution TensorFlow's CPU kernels refuse: {refused_first}")


if __name__ == "__main__":
    main()
