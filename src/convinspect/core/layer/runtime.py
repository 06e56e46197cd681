"""Whether TensorFlow can run a layer Keras accepts, on this machine or another: its CPU kernels.

A layer is *valid* when Keras accepts it (constructor, build, symbolic call); it *runs*
when the backend can execute the forward pass. On the CPU, TensorFlow 2.21 runs a conv
op on one of two kernel sets, chosen once per process and then per dtype
(tensorflow/core/util/port.cc `IsMklEnabled`, `DefaultOneDnnPolicy`; util.cc
`IsDataTypeSupportedByOneDNNOnThisCPU`):

1. oneDNN is on when TF_ENABLE_ONEDNN_OPTS says so (0/false/1/true, any case); otherwise
   by platform: Linux x86 only on a CPU with one of ONEDNN_DEFAULT_FEATURES, Linux aarch64
   only on a Neoverse V1, Windows x86 always, macOS never (its builds have no oneDNN).
2. With oneDNN on, a compute dtype runs on it only where the CPU supports it (DTYPE_FEATURES);
   float64 never. Everything else runs on TensorFlow's plain (Eigen) kernels.

Each kernel set has its own rules (the recipes in core/layer/families.py say which of them a
layer breaks). They were found by experiment on TensorFlow 2.21 / Keras 3.15, forcing each
set with TF_ENABLE_ONEDNN_OPTS on one machine: the plain kernels refuse the same configs
in every dtype, oneDNN refuses only what both refuse. The dtype paths that need AVX-512
FP16 or AVX-NE-CONVERT are TensorFlow's source, not observed. docs/conventions.md has the
table; the Keras engine observes `runs`, the analytic engine predicts it, a property test
holds the two equal under both settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from convinspect.core.vocab.choices import Choice
from convinspect.core.vocab.text import shown, unstyled


class KernelSet(Choice):
    """The CPU kernels TensorFlow runs a conv op on."""

    ONEDNN = "onednn"
    PLAIN = "plain"

    @property
    def label(self) -> str:
        return "oneDNN" if self is KernelSet.ONEDNN else "plain"


class CpuKernels(Choice):
    """--cpu-kernels: this machine's choice (auto), or a machine where oneDNN is on or off."""

    AUTO = "auto"
    ONEDNN = "onednn"
    PLAIN = "plain"


ENV = "TF_ENABLE_ONEDNN_OPTS"
# Linux x86: any of these turns oneDNN on by default (port.cc DefaultOneDnnPolicy).
ONEDNN_DEFAULT_FEATURES = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
# With oneDNN on, the CPU features a 16-bit dtype needs (util.cc IsDataTypeSupportedByOneDNNOnThisCPU):
# every group of one entry must have one of its features present.
DTYPE_FEATURES: dict[str, tuple[tuple[str, ...], ...]] = {
    "bfloat16": (("avx512f", "avx_ne_convert"),),
    "float16": (("avx512bw",), ("avx512_fp16", "amx_fp16", "avx_ne_convert")),
}
_NEEDS = {
    "bfloat16": "avx512f or avx_ne_convert",
    "float16": "avx512bw with avx512_fp16 or amx_fp16, or avx_ne_convert",
}


@dataclass(frozen=True)
class Machine:
    """The facts TensorFlow reads to choose its CPU kernels (engines/machine.py reads them)."""

    system: str  # linux, darwin, windows, ...
    arch: str  # x86_64, aarch64, ...
    flags: frozenset[str] | None  # the CPU's feature flags, in Linux's /proc/cpuinfo names; None: unknown
    cpu: str | None = None  # the CPU's model name
    env: str | None = None  # TF_ENABLE_ONEDNN_OPTS as set; None: unset
    neoverse_v1: bool = False  # aarch64: an Arm Neoverse V1 core

    @property
    def x86(self) -> bool:
        return self.arch.lower() in ("x86_64", "amd64", "x86", "i386", "i686")

    def has(self, feature: str) -> bool:
        return self.flags is not None and feature in self.flags

    def supports(self, dtype: str) -> bool:
        """Whether oneDNN, when on, takes this compute dtype on this CPU."""
        if dtype == "float32":
            return True
        groups = DTYPE_FEATURES.get(dtype)
        if groups is None or not self.x86:
            return False
        if dtype == "float16" and self.has("avx_ne_convert"):
            return True
        return all(any(self.has(f) for f in group) for group in groups)


def env_switch(raw: str | None) -> bool | None:
    """TF_ENABLE_ONEDNN_OPTS as TensorFlow reads it: True, False, or None (unset or not a boolean)."""
    if raw is None:
        return None
    return {"0": False, "false": False, "1": True, "true": True}.get(raw.lower())


@dataclass(frozen=True)
class KernelChoice:
    """Which kernel set runs (or would run) a layer's compute dtype, and why, as one sentence."""

    kernels: KernelSet
    onednn: bool  # TensorFlow's oneDNN switch
    because: str
    dtype: str  # the compute dtype
    takes_dtype: bool  # whether oneDNN, when on, takes this dtype on that CPU
    observed: bool = False  # the switch read from TensorFlow itself (the Keras engine)
    flags: frozenset[str] | None = field(default=None, repr=False, compare=False)  # the CPU's (for known crashes)

    @property
    def alternative(self) -> str | None:
        """Where a layer the plain kernels refuse would run instead, on the CPU."""
        if self.kernels is KernelSet.ONEDNN:
            return None
        if not self.onednn:
            return f"oneDNN ({ENV}=1)" if self.takes_dtype else f"float32 on oneDNN ({ENV}=1)"
        return "float32"

    def to_dict(self) -> dict[str, Any]:
        return {"kernels": str(self.kernels), "onednn": self.onednn, "because": self.because}


def _switch(machine: Machine, requested: CpuKernels) -> tuple[bool, str]:
    """TensorFlow's oneDNN switch for `machine`, or the one `requested` names, and why."""
    if requested is not CpuKernels.AUTO:
        return requested is CpuKernels.ONEDNN, f"--cpu-kernels {requested}"
    system = machine.system.lower()
    if system == "darwin":
        return False, "TensorFlow's macOS builds have no oneDNN"
    if not (machine.x86 or (system == "linux" and machine.arch.lower() in ("aarch64", "arm64"))):
        return False, f"TensorFlow has no oneDNN on {machine.system} {machine.arch}"
    switch = env_switch(machine.env)
    if switch is not None:
        return switch, f"{ENV}={machine.env}"
    ignored = (
        "" if machine.env is None else f"{ENV}={machine.env!r} is not 0, 1, true or false, so TensorFlow ignores it; "
    )
    if system == "windows":
        return True, ignored + "TensorFlow turns oneDNN on by default on x86 Windows"
    if system != "linux":
        return False, ignored + f"TensorFlow turns oneDNN on by default only on Linux and Windows, not {machine.system}"
    unset = ignored or f"{ENV} unset and "
    if not machine.x86:
        if machine.neoverse_v1:
            return True, unset + "the CPU is an Arm Neoverse V1"
        return False, unset + "the CPU is not an Arm Neoverse V1"
    if machine.flags is None:
        return False, unset + "the CPU's features are unknown (no /proc/cpuinfo), assumed to have none of " + ", ".join(
            ONEDNN_DEFAULT_FEATURES
        )
    present = [f for f in ONEDNN_DEFAULT_FEATURES if machine.has(f)]
    if present:
        return True, unset + "the CPU has " + ", ".join(present)
    return False, unset + "the CPU has none of " + ", ".join(ONEDNN_DEFAULT_FEATURES)


def choose_kernels(
    machine: Machine, compute_dtype: str, requested: CpuKernels = CpuKernels.AUTO, observed: bool | None = None
) -> KernelChoice:
    """The kernel set for `compute_dtype`: TensorFlow's decision on `machine` (auto), or on a machine
    with oneDNN on or off (`requested`). `observed` is TensorFlow's own switch, when it was read.

    With --cpu-kernels onednn the analytic engine predicts a 16-bit dtype on oneDNN (a CPU that
    supports it); the Keras engine refuses that request on a CPU that does not."""
    on, why = _switch(machine, requested)
    seen = observed is not None
    if seen and observed != on:
        why = f"TensorFlow reports oneDNN {'on' if observed else 'off'}, although {why} says otherwise"
        on = bool(observed)
    assumed = requested is CpuKernels.ONEDNN and not seen and compute_dtype in DTYPE_FEATURES
    takes = assumed or machine.supports(compute_dtype)

    def choice(kernels: KernelSet, because: str) -> KernelChoice:
        return KernelChoice(kernels, on, because, compute_dtype, takes, seen, machine.flags)

    if not on:
        return choice(KernelSet.PLAIN, f"oneDNN is off: {why}")
    if compute_dtype == "float32":
        return choice(KernelSet.ONEDNN, f"oneDNN is on ({why}) and takes float32 on every CPU")
    if compute_dtype not in DTYPE_FEATURES:
        return choice(KernelSet.PLAIN, f"oneDNN is on ({why}) but never takes {compute_dtype}")
    needs = _NEEDS[compute_dtype]
    if assumed:
        return choice(KernelSet.ONEDNN, f"oneDNN is on ({why}) and takes {compute_dtype} on a CPU with {needs}")
    if takes:
        return choice(KernelSet.ONEDNN, f"oneDNN is on ({why}) and takes {compute_dtype}: the CPU has {needs}")
    lacks = "the CPU's features are unknown, assumed to lack them" if machine.flags is None else "the CPU lacks them"
    return choice(
        KernelSet.PLAIN, f"oneDNN is on ({why}) but takes {compute_dtype} only on a CPU with {needs}; {lacks}"
    )


class Rule(Choice):
    """Why a backend does not run a layer: a TensorFlow CPU kernel's limit, or a failure observed."""

    NCHW_CPU = "nchw_cpu"
    UNEQUAL_STRIDES = "unequal_strides"
    TRANSPOSE_NCHW_CPU = "transpose_nchw_cpu"
    TRANSPOSE_DILATION_CPU = "transpose_dilation_cpu"
    TRANSPOSE_SAME_EVEN_KERNEL = "transpose_same_even_kernel"
    TENSORFLOW = "tensorflow"
    BACKEND = "backend"
    CRASH = "crash"


# rule -> (what fails, what would work; for a plain-kernel rule, oneDNN or a GPU too)
RULES: dict[Rule, tuple[str, str]] = {
    Rule.NCHW_CPU: (
        "TensorFlow's plain CPU Conv1D/Conv2D kernels take channels_last (NHWC) only",
        "channels_last, groups > 1",
    ),
    Rule.UNEQUAL_STRIDES: (
        "TensorFlow's plain CPU depthwise kernel needs equal strides on both axes",
        "equal strides",
    ),
    Rule.TRANSPOSE_NCHW_CPU: (
        "TensorFlow's plain CPU transposed-conv kernels take channels_last only",
        "channels_last",
    ),
    Rule.TRANSPOSE_DILATION_CPU: (
        "TensorFlow's plain CPU transposed-conv kernels do not support dilation > 1",
        "dilation 1",
    ),
    Rule.TRANSPOSE_SAME_EVEN_KERNEL: (
        "with padding='same', an even effective kernel and output_padding=0 on an axis, Keras' output is one "
        "step too short for TensorFlow to map back onto the input",
        "output_padding >= 1 on that axis, or output_padding unset",
    ),
    Rule.TENSORFLOW: ("TensorFlow failed to run the forward pass", "another dtype or data format, or a GPU"),
    Rule.BACKEND: (
        "the Keras backend failed to run the forward pass",
        "another backend (--backend), dtype or data format",
    ),
    Rule.CRASH: (
        "TensorFlow's CPU kernel crashed the process in the forward pass",
        f"the other CPU kernel set ({ENV}=0 or 1), another dtype, or another backend (--backend)",
    ),
}
# The rules only the plain kernels have: oneDNN kernels, where they run a dtype, would take the layer.
PLAIN_ONLY = frozenset({Rule.NCHW_CPU, Rule.UNEQUAL_STRIDES, Rule.TRANSPOSE_NCHW_CPU, Rule.TRANSPOSE_DILATION_CPU})

# TensorFlow's messages -> the rule they report (the Keras engine classifies what it observes).
_MESSAGES: tuple[tuple[str, Rule], ...] = (
    ("only supports the NHWC tensor format", Rule.NCHW_CPU),
    ("equal length strides", Rule.UNEQUAL_STRIDES),
    ("only supports NHWC", Rule.TRANSPOSE_NCHW_CPU),
    ("only supports NDHWC", Rule.TRANSPOSE_NCHW_CPU),
    ("dilation rates larger than 1", Rule.TRANSPOSE_DILATION_CPU),
    ("Size of out_backprop doesn't match computed", Rule.TRANSPOSE_SAME_EVEN_KERNEL),
    ("could not create a primitive descriptor", Rule.TRANSPOSE_SAME_EVEN_KERNEL),
)


@dataclass(frozen=True)
class Runtime:
    """Can the backend run the forward pass? Observed (Keras engine) or predicted, with the kernels."""

    runs: bool
    observed: bool
    rule: Rule | None = None  # why it does not run
    reason: str | None = None  # TensorFlow's own words when observed, the rule's when predicted
    backend: str = "tensorflow"
    device: str = "CPU"
    kernels: KernelChoice | None = None  # TensorFlow's CPU kernel set (None on other backends)
    signal: str | None = None  # how the process died, when the forward pass crashed it (SIGSEGV)

    @property
    def crashed(self) -> bool:
        """The forward pass killed the process it ran in (observed), or would (predicted)."""
        return self.rule is Rule.CRASH

    def crash_text(self, class_name: str, name: str) -> str:
        """The one line of a forward pass that killed its process: what crashed, how, and in which layer."""
        return f"{self.reason} in the forward pass of {class_name} {shown(name)}"

    @property
    def remedy(self) -> str | None:
        if self.rule is None:
            return None
        remedy = RULES[self.rule][1]
        if self.rule is Rule.CRASH and self.backend != "tensorflow":  # no CPU kernel sets to switch there
            return "output_padding unset (or 1 on a stride-2 axis), or another backend (--backend)"
        if self.rule not in PLAIN_ONLY:
            return remedy
        alternative = None if self.kernels is None else self.kernels.alternative
        return f"{remedy}, {alternative}, or a GPU" if alternative else f"{remedy}, or a GPU"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "device": self.device, "runs": self.runs}
        if not self.runs:
            out |= {"rule": self.rule, "reason": self.reason}
        if self.signal is not None:
            out["signal"] = self.signal
        out["observed"] = self.observed
        if self.kernels is not None:
            out |= self.kernels.to_dict()
        return out


def predicted(rule: Rule | None, kernels: KernelChoice | None = None) -> Runtime:
    """The analytic engine's verdict from a recipe's rule (None: it runs)."""
    if rule is None:
        return Runtime(runs=True, observed=False, kernels=kernels)
    return Runtime(runs=False, observed=False, rule=rule, reason=RULES[rule][0], kernels=kernels)


def observed_failure(message: str, kernels: KernelChoice | None = None) -> Runtime:
    """The Keras engine's verdict from TensorFlow's error: its first line of substance, and the rule."""
    message = unstyled(message)  # Keras styles its messages
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Exception encountered when calling")] or [message]
    first = re.sub(r"\{\{[^}]*\}\}\s*", "", lines[0])
    first = first if len(first) <= 240 else first[:237] + "..."
    rule = next((code for phrase, code in _MESSAGES if phrase in message), Rule.TENSORFLOW)
    return Runtime(runs=False, observed=True, rule=rule, reason=first, kernels=kernels)


@dataclass(frozen=True)
class KnownCrash:
    """A layer TensorFlow accepts whose CPU kernel kills the process, and where that was seen."""

    class_name: str
    kernels: KernelSet
    dtype: str  # the compute dtype
    features: tuple[str, ...]  # CPU features that must all be present (the kernel oneDNN dispatches to)
    dilated: bool  # only with a dilation rate above 1 on some axis
    seen: str  # the evidence, for docs/conventions.md and the prediction's sentence

    def covers(self, class_name: str, dilation_rate: tuple[int, ...], kernels: KernelChoice) -> bool:
        return (
            class_name == self.class_name
            and kernels.kernels is self.kernels
            and kernels.dtype == self.dtype
            and kernels.flags is not None
            and all(f in kernels.flags for f in self.features)
            and (not self.dilated or max(dilation_rate, default=1) > 1)
        )


# Each from a crash seen on real hardware (docs/conventions.md, "Known crashes").
KNOWN_CRASHES = (
    KnownCrash(
        "Conv3DTranspose", KernelSet.ONEDNN, "bfloat16", ("amx_bf16",), True,
        "SIGSEGV in TensorFlow 2.21 on an Intel Xeon with avx512_fp16 and amx_bf16 (Conv3DTranspose(64, 6, "
        "padding='same', dilation_rate=(3, 3, 1), dtype='bfloat16')); reported, not seen on this project's AMD CPUs",
    ),
)  # fmt: skip


def known_crash(class_name: str, dilation_rate: tuple[int, ...], kernels: KernelChoice) -> KnownCrash | None:
    """The known crash this layer meets on the kernels and CPU of `kernels`, if any."""
    return next((c for c in KNOWN_CRASHES if c.covers(class_name, dilation_rate, kernels)), None)


def crash_predicted(crash: KnownCrash, kernels: KernelChoice) -> Runtime:
    """The analytic engine's verdict on a known crash."""
    reason = f"TensorFlow's {crash.kernels.label} kernel crashes on this layer here ({crash.seen})"
    return Runtime(runs=False, observed=False, rule=Rule.CRASH, reason=reason, kernels=kernels)


def crash_observed(signal: str, backend: str, kernels: KernelChoice | None) -> Runtime:
    """The Keras engine's verdict when the forward pass killed its worker process."""
    if backend == "tensorflow" and kernels is not None:
        reason = f"TensorFlow's {kernels.kernels.label} CPU kernel crashed the process ({signal})"
    else:
        reason = f"the {backend} backend crashed the process ({signal})"
    return Runtime(runs=False, observed=True, rule=Rule.CRASH, reason=reason, backend=backend, kernels=kernels,
                   signal=signal)  # fmt: skip
