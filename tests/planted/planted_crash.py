"""A planted crash: imported first by a worker process (tests/integration/test_crash.py), it makes every Conv2D
with 13 filters kill its process with SIGSEGV in the forward pass, as TensorFlow's oneDNN kernel
does on some CPUs (issue 29). Keras' symbolic call never reaches call(), so only kernels die."""

from __future__ import annotations

import functools
import os
import signal
from typing import Any

from convinspect.engines import keras as engine

CRASHING_FILTERS = 13
_load = engine.load


@functools.lru_cache(maxsize=1)
def load() -> tuple[Any, Any, dict[str, str | None]]:
    keras, numpy, versions = _load()
    conv = keras.layers.Conv2D
    call = conv.call

    def crashing(self: Any, inputs: Any) -> Any:
        if self.filters == CRASHING_FILTERS:
            os.kill(os.getpid(), signal.SIGSEGV)
        return call(self, inputs)

    conv.call = crashing
    return keras, numpy, versions


engine.load = load
