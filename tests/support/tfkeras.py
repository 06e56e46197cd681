"""Files saved by tf_keras (Keras 2), in a process of its own: what the translations are held to."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

needs_tf_keras = pytest.mark.skipif(
    importlib.util.find_spec("tf_keras") is None, reason="tf_keras (a test extra) is missing"
)


def save_with_tf_keras(tmp_path: Path, body: str) -> dict[str, Any]:
    """Run `body` with tf_keras as `k` (and `tmp` the folder); it sets `model`. Saves m.h5, m.json and
    m.keras; returns the parameters tf_keras counts and its last output shape."""
    script = (
        "import json, os, sys\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport tf_keras as k\n"
        f"tmp = sys.argv[1]\n{body}\n"
        "model.save(os.path.join(tmp, 'm.h5'))\nopen(os.path.join(tmp, 'm.json'), 'w').write(model.to_json())\n"
        "model.save(os.path.join(tmp, 'm.keras'))\n"
        "print(json.dumps({'params': model.count_params(), 'output': list(model.output_shape)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]
