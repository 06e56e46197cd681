"""Every architecture in keras.applications (weights=None), through both engines, against Keras itself.

Building all 40 takes about a minute and a half here; CI runs them all.
"""

from __future__ import annotations

import json

import pytest

from convinspect.core.model.report import model_disagreement
from convinspect.core.model.source import Source, SourceKind
from convinspect.engines import analytic
from convinspect.engines.keras_model import model_report
from convinspect.engines.session import load

from test_model import assert_matches_keras

keras, _, _ = load()
APPLICATIONS = sorted(name for name in dir(keras.applications) if name[:1].isupper())

# MACs at batch 1, 224x224 (the papers' figures, and convinspect's, pinned exactly).
PUBLISHED = {
    "MobileNet": (569e6, 568_740_352),
    "MobileNetV2": (300e6, 300_774_272),
    "ResNet50": (3.8e9, 3_857_973_248),
    "VGG16": (15.5e9, 15_470_264_320),
    "EfficientNetB0": (0.39e9, 385_814_752),
    "NASNetMobile": (564e6, 563_638_816),
}


def test_there_are_forty_applications() -> None:
    assert len(APPLICATIONS) >= 40


@pytest.mark.applications
@pytest.mark.parametrize("name", APPLICATIONS)
def test_application_through_both_engines(name: str) -> None:
    model = getattr(keras.applications, name)(weights=None)
    try:
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        computed = analytic.inspect_model(config, Source(name, SourceKind.APPLICATION, target=name))
        real = model_report(model, Source(name, SourceKind.APPLICATION, target=name), len(model.weights))
        assert_matches_keras(computed, model)
        assert_matches_keras(real, model)
        assert model_disagreement(computed, real) is None
        if name in PUBLISHED:
            published, pinned = PUBLISHED[name]
            assert computed.totals.macs == pinned
            assert abs(pinned - published) / published < 0.03
    finally:
        del model
        keras.backend.clear_session()
