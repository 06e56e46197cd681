"""`convinspect model` on a corpus of real models (tests/support/corpus.py), against the frameworks that made them.

Each model, in the Keras engine: the totals equal the framework's count_params() and trainable
weights, every top-level layer's output shape the framework's, and the MACs an independent count
from the framework's own layer configs and shapes. In the analytic engine: the same report, or a refusal in one line.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from convinspect.api import inspect_model
from convinspect.core.model.report import model_disagreement
from convinspect.engines.session import load
from convinspect.errors import InvalidInput

pytest.importorskip("tf_keras")
pytest.importorskip("keras_hub")
keras, _, _ = load()

from corpus import Model, count_macs, keras3_models, keras_hub_models, tf_keras_models  # noqa: E402
from test_model_subclasses import OwnCall, Residual  # noqa: E402

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Model]:
    folder = tmp_path_factory.mktemp("corpus")
    models = [
        *tf_keras_models(folder),
        *keras_hub_models(keras, folder),
        *keras3_models(keras, folder, {"OwnCall": OwnCall, "Residual": Residual}),
    ]
    return {f"{m.source}:{m.name}": m for m in models}


NAMES = [f"tf_keras:{n}" for n in ("unet", "autoencoder", "mnist_k2", "mobilenet", "mobilenetv2", "densenet121",
                                   "efficientnetb0", "resnet50", "vgg16", "xception", "inceptionv3",
                                   "nasnetmobile")]  # fmt: skip
NAMES += [f"keras_hub:{n}" for n in ("resnet", "resnet_v2", "classifier", "vgg", "densenet", "xception", "hgnetv2",
                                    "vit", "cspnet", "cspnet_dark", "mobilenet", "efficientnet", "dinov2", "deeplabv3",
                                    "retinanet", "basnet", "mit", "segformer", "swin", "vitdet")]  # fmt: skip
NAMES += [f"keras3:{n}" for n in ("mnist", "residual", "augmented", "unet3", "text", "timeseries", "video",
                                  "nested_head", "blocks", "own_call", "mobilenetv3small",
                                  "efficientnetv2b0")]  # fmt: skip


def test_the_corpus_has_at_least_thirty_models_from_three_sources(corpus: dict[str, Model]) -> None:
    assert sorted(corpus) == sorted(NAMES)
    assert len(corpus) >= 30 and {m.source for m in corpus.values()} == {"tf_keras", "keras_hub", "keras3"}


def _trainable(model: Any) -> int:
    return sum(math.prod(v.shape) for v in model.trainable_weights)


def _layer_facts(model: Any) -> list[tuple[str, Any]]:
    """Each top-level layer's (and operation's) class and output shapes, as Keras holds them."""
    facts = []
    for layer in model.operations:
        if not layer._inbound_nodes:
            facts.append((type(layer).__name__, ()))
            continue
        outputs = layer._inbound_nodes[0].outputs
        facts.append((type(layer).__name__, tuple(tuple(t.shape) for t in outputs)))
    return facts


@pytest.mark.parametrize("name", NAMES)
def test_the_keras_engine_is_exact_on_every_corpus_model(name: str, corpus: dict[str, Model]) -> None:
    entry = corpus[name]
    model = entry.model
    report = inspect_model(str(entry.path), engine="keras", imports=entry.imports)
    assert report.totals.params.total == model.count_params()
    assert report.totals.params.trainable == _trainable(model)
    if entry.renamed:  # the same layers, by class and output shape, whatever names this load gave them
        rows = [(r.class_name, r.outputs) for r in report.rows if not r.path and r.call == 0 and r.calls]
        assert sorted(rows, key=repr) == sorted(_layer_facts(model), key=repr)
    for layer in [] if entry.renamed else model.layers:
        if type(layer).__name__ == "InputLayer":  # a subclass rebuilt from its arguments names its input anew
            continue
        row = report.row(layer.name)
        assert row is not None, layer.name
        if row.container or not hasattr(layer, "output"):
            continue
        try:
            outputs = layer.output if isinstance(layer.output, list) else [layer.output]
        except (AttributeError, ValueError):  # a layer called more than once
            continue
        assert row.outputs == tuple(tuple(t.shape) for t in outputs), layer.name
    assert report.totals.complete, report.totals.uncounted
    assert report.totals.macs == (count_macs(model) if entry.macs is None else entry.macs)


@pytest.mark.parametrize("name", NAMES)
def test_the_analytic_engine_is_exact_or_refuses_in_one_line(name: str, corpus: dict[str, Model]) -> None:
    entry = corpus[name]
    try:
        computed = inspect_model(str(entry.path), engine="analytic")
    except InvalidInput as refused:
        assert "\n" not in refused.message() and len(refused.message()) < 400
        return
    real = inspect_model(str(entry.path), engine="keras", imports=entry.imports)
    assert model_disagreement(computed, real) is None
    assert computed.totals.params.total == entry.model.count_params()
    assert computed.totals.macs == real.totals.macs


def test_keras_2_names_with_a_slash_are_shown_as_saved(corpus: dict[str, Model]) -> None:
    entry = corpus["tf_keras:densenet121"]
    for engine in ("keras", "analytic"):
        report = inspect_model(str(entry.path), engine=engine)
        assert report.row("conv1/conv") is not None and report.row("conv1/conv").class_name == "Conv2D"  # type: ignore[union-attr]


def test_the_analytic_refusals_name_what_to_do(corpus: dict[str, Model]) -> None:
    with pytest.raises(InvalidInput, match=r"'ResNetBackbone'.*--engine keras --import keras_hub"):
        inspect_model(str(corpus["keras_hub:resnet"].path), engine="analytic")


def test_per_source_counts(corpus: dict[str, Model], capsys: pytest.CaptureFixture[str]) -> None:
    """The corpus figures the closing notes quote: exact in the Keras engine, analytic exact or refused."""
    tally: dict[str, dict[str, int]] = {}
    for entry in corpus.values():
        counts = tally.setdefault(entry.source, {"models": 0, "analytic exact": 0, "analytic refused": 0})
        counts["models"] += 1
        try:
            inspect_model(str(entry.path), engine="analytic")
            counts["analytic exact"] += 1
        except InvalidInput:
            counts["analytic refused"] += 1
    with capsys.disabled():
        print("\ncorpus:", tally)
    assert sum(c["models"] for c in tally.values()) == len(corpus)
