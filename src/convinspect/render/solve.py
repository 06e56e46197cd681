"""convinspect solve: the solutions, best first, as text (table format) and Markdown (JSON: render/json.py)."""

from __future__ import annotations

from convinspect.core.commands.solve import RANKING, Solution, SolveResult, keras_call
from convinspect.core.layer.geometry import layer_geometry
from convinspect.render.words import geometry_formula, md_code, shape_text


def header(result: SolveResult) -> str:
    return (f"{result.kind.class_name}: {shape_text(result.input_shape)} → {shape_text(result.target)}; "
            f"kernel ≤ {result.bounds.kernel}, strides ≤ {result.bounds.stride}, "
            f"dilation ≤ {result.bounds.dilation}")  # fmt: skip


def explain(solution: Solution) -> list[str]:
    """The per-axis arithmetic that makes the solution hit the target."""
    spec = solution.spec
    df = spec.data_format
    out = df.spatial(solution.output_shape)
    geometry = layer_geometry(spec.kind.recipe.transposed, spec.kind.spatial_axes, spec.spatial, out, spec.config)
    return [geometry_formula(g) for g in geometry]


def solution_lines(index: int, solution: Solution, with_explain: bool) -> list[str]:
    lines = [f"{index}. {solution.keras}", f"   {solution.command}"]
    if not solution.runs_everywhere:
        lines.append(f"   {refused_text(solution)}")
    if solution.encoder is not None:
        lines.append(f"   encoder (maps {shape_text(solution.output_shape)} back): {keras_call(solution.encoder)}")
    if with_explain:
        lines.extend(f"   {line}" for line in explain(solution))
    return lines


_NAMES = {"jax": "JAX", "numpy": "NumPy"}
_FAILS = {"tensorflow": "TensorFlow's CPU kernels refuse", "jax": "XLA's CPU compiler aborts on"}


def refused_text(solution: Solution) -> str:
    """Which backends cannot run this setting, and which do."""
    cannot = [
        *([] if solution.refused is None else [f"TensorFlow's CPU kernels refuse this ({solution.refused})"]),
        *(["XLA's CPU compiler (the JAX backend) aborts the process on it"] if solution.aborts else []),
    ]
    runs = ["TensorFlow" if solution.refused is None else "", *(_NAMES[b] for b in solution.runs_on)]
    runs = [r for r in runs if r]
    return f"{'; '.join(cannot)}; {' and '.join(runs)} run{'s' if len(runs) == 1 else ''} it"


def closing(result: SolveResult) -> list[str]:
    lines = []
    if result.channels_note:
        lines.append(f"note: {result.channels_note}")
    if result.solutions:
        more = " (the first --limit)" if len(result.solutions) == result.limit else ""
        failing = any(s.fails_on(result.backend) for s in result.solutions)
        last = f"; what {_FAILS[result.backend]} last" if failing else ""
        shown_on = "" if result.backend == "tensorflow" else f" (for {result.backend})"
        lines.append(f"{len(result.solutions)} solution(s){more}{shown_on}, ranked: {RANKING}{last}")
        return lines
    lines.append("no solution within the bounds; nearest reachable:")
    for near in result.nearest:
        if near.axis == "all":
            lines.append(f"  {near.hint}")
            continue
        reach = " or ".join(str(v) for v in (near.below, near.above) if v is not None) or "nothing"
        lines.append(f"  {near.axis}: {reach} reachable, not {near.target}" + (f"; {near.hint}" if near.hint else ""))
    return lines


def solve_text(result: SolveResult, with_explain: bool = False) -> str:
    lines = [header(result), ""]
    for index, solution in enumerate(result.solutions, start=1):
        lines.extend(solution_lines(index, solution, with_explain))
    if result.solutions:
        lines.append("")
    lines.extend(closing(result))
    return "\n".join(lines) + "\n"  # plain lines: constructors and commands are pasted, never wrapped


def solve_markdown(result: SolveResult, with_explain: bool = False) -> str:
    lines = [f"### {header(result)}", ""]
    if result.solutions:
        lines += ["| # | Keras | build command |", "|---:|---|---|"]
        for index, solution in enumerate(result.solutions, start=1):
            encoder = "" if solution.encoder is None else f"<br>encoder: {md_code(keras_call(solution.encoder))}"
            keras = md_code(solution.keras) + encoder
            if not solution.runs_everywhere:
                keras += f"<br>{refused_text(solution)}"
            lines.append(f"| {index} | {keras} | {md_code(solution.command)} |".replace("|`", "| `"))
        lines.append("")
    lines.extend(f"- {line.strip()}" for line in closing(result))
    return "\n".join(lines) + "\n"


def summary_line(result: SolveResult) -> str:
    return closing(result)[-1] if result.solutions else "no solution within the bounds"
