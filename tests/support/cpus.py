"""Recorded CPUs, and which runtime rules the suite saw for real on this one.

Each file in tests/cpus/ is the first processor's entry of a real machine's /proc/cpuinfo
(the kind TensorFlow's kernels differ on). A test becomes that machine by replacing
`convinspect.engines.machine.cpu_facts`, the one function that reads the CPU.

Tests that run real TensorFlow note the rules they observed (`observed`); tests on recorded
CPUs note the rules they reached by flags alone (`recorded`). The end of the pytest run prints
both (conftest.py), so a green run says which verdicts this CPU proved and which it could not.
"""

from __future__ import annotations

from paths import RECORDED_CPUS

from convinspect.engines.machine import CpuFacts

HERE = RECORDED_CPUS
ARCH = {"graviton3_neoverse_v1": "aarch64", "graviton2_neoverse_n1": "aarch64"}
NAMES = sorted(path.stem for path in HERE.glob("*.txt"))

OBSERVED: set[str] = set()
RECORDED: set[str] = set()


def facts(name: str) -> CpuFacts:
    return CpuFacts("linux", ARCH.get(name, "x86_64"), (HERE / f"{name}.txt").read_text())


def observed(rule: str) -> None:
    OBSERVED.add(rule.replace("onednn", "oneDNN"))


def recorded(rule: str) -> None:
    RECORDED.add(rule.replace("onednn", "oneDNN"))


def summary() -> str | None:
    """One line for the end of the run (None when no runtime test ran)."""
    if not OBSERVED and not RECORDED:
        return None
    from convinspect.engines.machine import this_machine

    machine = this_machine()
    features = [f for f in ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
                            "amx_bf16", "avx_ne_convert") if machine.has(f)]  # fmt: skip
    here = f"{machine.cpu or machine.arch} ({', '.join(features) or 'none of the features TensorFlow asks for'})"
    real = ", ".join(sorted(OBSERVED)) or "none"
    only = ", ".join(sorted(RECORDED - OBSERVED)) or "none"
    return f"CPU kernel rules observed for real on {here}: {real}; by recorded CPU flags only: {only}"
