"""The machine facts TensorFlow reads to choose its CPU kernels, read without TensorFlow.

Linux: /proc/cpuinfo (the kernel's names for the CPU features TensorFlow tests with CPUID;
the first processor's, as every core of a machine has the same). macOS: `sysctl` for the
CPU's name only (TensorFlow's macOS builds have no oneDNN, so no feature decides anything
there). Elsewhere the features are unknown, and core/layer/runtime.py says what it assumed.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from dataclasses import dataclass

from convinspect.core.layer.runtime import ENV, Machine

CPUINFO = "/proc/cpuinfo"
_NEOVERSE_V1 = ("0x41", "0xd40")  # Arm's implementer code, and the Neoverse V1 part number
_MAX_BYTES = 1 << 20  # one processor's entry is a few KiB; never read more than this


def parse_cpuinfo(text: str) -> tuple[frozenset[str] | None, str | None, bool]:
    """(flags, model name, is a Neoverse V1) of the first processor listed."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the end of the first processor's entry
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    raw = fields.get("flags", fields.get("features"))
    flags = None if raw is None else frozenset(raw.lower().split())
    name = fields.get("model name") or fields.get("cpu model") or fields.get("hardware")
    part = (fields.get("cpu implementer", "").lower(), fields.get("cpu part", "").lower())
    return flags, name, part == _NEOVERSE_V1


@dataclass(frozen=True)
class CpuFacts:
    """What the system says of its CPU, unparsed: the one thing a test replaces to be another machine."""

    system: str  # platform.system(), lowered
    arch: str  # platform.machine(), lowered
    cpuinfo: str | None  # Linux: /proc/cpuinfo's text (None: unreadable)
    name: str | None = None  # macOS: the CPU's name from sysctl


@functools.lru_cache(maxsize=1)
def cpu_facts() -> CpuFacts:
    """This machine's CpuFacts, read once per process."""
    system, arch = platform.system().lower(), platform.machine().lower()
    if system == "linux":
        try:
            with open(CPUINFO, encoding="utf-8", errors="replace") as file:
                return CpuFacts(system, arch, file.read(_MAX_BYTES))
        except OSError:
            return CpuFacts(system, arch, None)
    name = None
    if system == "darwin":
        try:
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=2, check=False).stdout.strip() or None  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            name = None
    return CpuFacts(system, arch, None, name)


@functools.lru_cache(maxsize=8)
def _parsed(cpuinfo: str | None) -> tuple[frozenset[str] | None, str | None, bool]:
    return (None, None, False) if cpuinfo is None else parse_cpuinfo(cpuinfo)


_USER_ENV: list[str | None] = []  # the user's TF_ENABLE_ONEDNN_OPTS, once convinspect has set its own


def set_switch(value: str) -> None:
    """Set TF_ENABLE_ONEDNN_OPTS for this process's TensorFlow (--cpu-kernels), remembering the user's."""
    if not _USER_ENV:
        _USER_ENV.append(os.environ.get(ENV))
    os.environ[ENV] = value


def user_switch() -> str | None:
    """The user's own TF_ENABLE_ONEDNN_OPTS (None: unset), whatever --cpu-kernels set since."""
    return _USER_ENV[0] if _USER_ENV else os.environ.get(ENV)


def switch_was_set() -> bool:
    """Whether convinspect, not the user, chose this process's oneDNN switch."""
    return bool(_USER_ENV)


def this_machine() -> Machine:
    """This machine as TensorFlow would see it by default: the user's environment variable (read on
    each call, and never the value --cpu-kernels set), the CPU (`cpu_facts`) and the platform."""
    facts = cpu_facts()
    flags, name, neoverse = _parsed(facts.cpuinfo)
    return Machine(facts.system, facts.arch, flags, name or facts.name, user_switch(), neoverse)


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None
