"""--budget accounts for what TensorFlow allocates, a dilated conv's staging included (issue: trust at
the edges, round two, item 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from convinspect import inspect_layer, parse_spec
from convinspect.core.layer.forward import dilated_staging

DILATED = ["build", "--layer", "conv1d", "--filters", "4", "--kernel", "3", "--dilation", "100000000",
           "--padding", "same", "--input", "1,2,3"]  # fmt: skip


def test_a_huge_dilation_goes_symbolic_and_memory_stays_bounded() -> None:
    code = (
        "import resource, subprocess, sys\n"
        f"p = subprocess.run([sys.executable, '-m', 'convinspect', *{DILATED!r}, '-F', 'json'], capture_output=True,"
        " text=True)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(p.stdout)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout  # fmt: skip
    first, _, document = out.partition("\n")
    code_, peak_kib = map(int, first.split())
    data = json.loads(document)
    assert code_ == 0 and data["forward"] == "symbolic" and data["forward_choice"]["reason"] == "over_budget"
    assert data["forward_choice"]["activation_bytes"] > 4 * 2**30  # the staged, padded input is counted
    assert peak_kib < 2 * 2**20, peak_kib  # under 2 GiB: TensorFlow itself, nothing staged


def test_the_staging_is_the_input_padded_to_a_multiple_of_the_dilation() -> None:
    spec = parse_spec({"layer": "conv1d", "filters": 4, "kernel": 3, "dilation": 10**8, "padding": "same",
                       "input": "1,2,3"})  # fmt: skip
    # same padding: 2 cells + 2·10^8 of padding, regrouped into 3 blocks of 10^8; 3 channels
    assert dilated_staging(spec, spec.input_shape, (1, 2, 4)) == 3 * 10**8 * 3
    assert dilated_staging(parse_spec({"filters": 4, "kernel": 3, "input": "1,8,8,3"}), (1, 8, 8, 3), (1, 6, 6, 4)) == 0


def test_verify_never_allocates_past_the_budget(cli: Any) -> None:
    result = cli(*DILATED, "--verify")
    assert result.exit_code == 2 and result.stderr.startswith("convinspect: error: --verify: even a probe")
    report = inspect_layer(
        {"layer": "conv1d", "filters": 2, "kernel": 3, "dilation": 3, "input": "1,20,2"}, verify=True
    )
    assert report.verification is not None and report.verification.ok
