"""`model --training`: weights, gradients and optimizer state exact against real Keras, the activation
rules held against XLA's compiled train step (--measure), --fit, check's max_training_memory, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from convinspect.api import inspect_model
from convinspect.cli import app
from convinspect.core.model.training import (
    COMMON,
    OPTIMIZERS,
    TrainingRequest,
    parse_optimizer,
    scalar_bytes,
    training_memory,
)
from convinspect.engines.session import load

runner = CliRunner()
# The activation rules against XLA, on the small models below: the predicted peak within this share of
# XLA's (the benchmark holds the applications: benchmarks/bench_training_memory.py, docs/memory.md).
TOLERANCE = 0.15


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["model", *args])
    return result.exit_code, result.stdout, result.stderr


def _keras() -> Any:
    return load()[0]


def _convnet(keras: Any) -> Any:
    """Every kind of variable an optimizer treats apart: 4-D and 2-D kernels, 1-D biases and BatchNorm's
    gamma/beta beside its non-trainable moving statistics, an embedding, a frozen layer."""
    layers = keras.layers
    image = keras.Input((16, 16, 3), name="image")
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Conv2D(8, 3, padding="same", name="conv")(image)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.DepthwiseConv2D(3, name="dw")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    t = layers.Embedding(50, 8, name="embedding")(tokens)
    t = layers.GlobalAveragePooling1D(name="mean")(t)
    x = layers.Concatenate(name="join")([x, t])
    x = layers.Dense(16, activation="relu", name="dense")(x)
    frozen = layers.Dense(4, name="frozen")
    frozen.trainable = False
    return keras.Model([image, tokens], frozen(x), name="convnet")


OPTIONS = [
    (name, "") for name in OPTIMIZERS
] + [
    ("sgd", "momentum=0.9"), ("rmsprop", "momentum=0.5"), ("rmsprop", "centered"), ("rmsprop", "momentum=0.5,centered"),
    ("adam", "amsgrad"), ("adamw", "amsgrad=true"), ("adam", "use_ema"), ("sgd", "gradient_accumulation_steps=4"),
    ("muon", "exclude_embeddings=false"), ("muon", "exclude_layers=dense"),
]  # fmt: skip


def _keras_optimizer(keras: Any, spec: str) -> Any:
    choice = parse_optimizer(spec)
    config: dict[str, Any] = {}
    for key, value in choice.options.items():
        if key == "gradient_accumulation_steps":
            if value:
                config[key] = int(value)
        elif key == "exclude_layers":
            if value:
                config[key] = [value]
        elif value != {**choice.recipe.options, **COMMON}[key]:
            config[key] = value
    return getattr(keras.optimizers, choice.recipe.name)(**config)


@pytest.mark.parametrize(("name", "options"), OPTIONS, ids=lambda v: str(v) or "defaults")
def test_optimizer_state_equals_what_keras_builds(name: str, options: str) -> None:
    keras = _keras()
    model = _convnet(keras)
    spec = f"{name}:{options}" if options else name
    optimizer = _keras_optimizer(keras, spec)
    optimizer.build(model.trainable_variables)
    built = sum(int(v.numpy().nbytes) for v in optimizer.variables)
    report = inspect_model_live(model)
    memory = training_memory(report.rows, 2, parse_optimizer(spec), "tensorflow")
    assert memory.optimizer_bytes == built, [(v.path, v.shape, v.dtype) for v in optimizer.variables]
    per_row = sum(m.optimizer for m in memory.rows.values())  # each variable's slots, on its layer's row
    assert memory.optimizer_bytes - per_row == scalar_bytes(parse_optimizer(spec), "tensorflow", "float32")


def inspect_model_live(model: Any) -> Any:
    from convinspect.api import inspect_object

    return inspect_object(model)


def test_weights_and_gradients_are_the_models_variables_and_frozen_layers_get_no_gradient() -> None:
    keras = _keras()
    model = _convnet(keras)
    memory = training_memory(inspect_model_live(model).rows, 2, parse_optimizer("adam"), "tensorflow")
    assert memory.weights == sum(int(v.numpy().nbytes) for v in model.weights)
    assert memory.gradients == sum(int(v.numpy().nbytes) for v in model.trainable_variables)
    assert memory.rows["frozen"].gradients == 0 and memory.rows["frozen"].optimizer == 0
    assert memory.rows["frozen"].weights == (16 * 4 + 4) * 4
    assert memory.rows["bn"].gradients == 2 * 8 * 4  # gamma and beta; the moving statistics get none


def test_mixed_float16_wraps_the_optimizer_in_a_loss_scale_optimizer_as_compile_does(tmp_path: Path) -> None:
    keras = _keras()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                                  keras.layers.Dense(3, dtype="float32")])  # fmt: skip
        model.compile(optimizer="adam", loss="mse")
        model.optimizer.build(model.trainable_variables)
        built = sum(int(v.numpy().nbytes) for v in model.optimizer.variables)
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        path = tmp_path / "mixed.keras"
        model.save(path)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    code, out, err = run(str(path), "--engine", "analytic", "--training", "-F", "json")
    assert code == 0, err
    training = json.loads(out)["totals"]["training"]
    assert training["optimizer_used"]["loss_scale"] is True
    assert training["optimizer"] == built


def test_both_engines_predict_the_same_step(tmp_path: Path) -> None:
    keras = _keras()
    path = tmp_path / "m.keras"
    _convnet(keras).save(path)
    figures = {}
    for engine in ("analytic", "keras"):
        code, out, err = run(str(path), "--engine", engine, "--training", "--batch", "8", "-F", "json")
        assert code == 0, err
        figures[engine] = json.loads(out)["totals"]["training"]
    for key in ("weights", "gradients", "optimizer", "activations", "peak"):
        assert figures["analytic"][key] == figures["keras"][key], key
        assert isinstance(figures["keras"][key], int)


def test_json_carries_training_on_every_row_and_in_the_totals(tmp_path: Path) -> None:
    keras = _keras()
    path = tmp_path / "m.keras"
    _convnet(keras).save(path)
    code, out, err = run(str(path), "--engine", "analytic", "--training", "-F", "json")
    assert code == 0, err
    data = json.loads(out)
    for layer in data["layers"]:
        assert set(layer["training"]) == {"weights", "gradients", "optimizer", "activations", "peak"}
    totals = data["totals"]["training"]
    assert totals["batch"] == 32 and totals["batch_from"] == "default"
    heaviest = max(data["layers"], key=lambda layer: layer["training"]["peak"])
    assert heaviest["path"] == totals["peak_at"] and totals["peak_pass"] in ("forward", "backward")
    # the step's peak is its heaviest call's memory
    assert heaviest["training"]["peak"] == totals["peak"]
    assert totals["peak"] > totals["weights"] + totals["optimizer"] + totals["activations"]
    assert totals["complete"] is True and totals["no_rule"] == []


def _save(keras: Any, model: Any, path: Path) -> str:
    model.save(path)
    return str(path)


def _small_models(keras: Any, folder: Path) -> dict[str, tuple[str, str]]:
    """Small networks of each group of rules, a few blocks deep as real ones are, and their input: a
    ResNet (conv, BatchNorm, ReLU, max pool, residual adds); an MLP with swish and dropout; a U-Net
    (transposed convs, concatenated skips); a transformer (attention, LayerNorm, GELU)."""
    layers = keras.layers

    def conv_bn(x: Any, filters: int, relu: bool = True) -> Any:
        x = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(x))
        return layers.ReLU()(x) if relu else x

    x = inputs = keras.Input((32, 32, 3))
    x = layers.MaxPooling2D(3, 2, padding="same")(conv_bn(x, 16))
    for _ in range(3):
        x = layers.ReLU()(layers.Add()([x, conv_bn(conv_bn(x, 16), 16, relu=False)]))
    resnet = keras.Model(inputs, layers.Dense(10)(layers.GlobalAveragePooling2D()(x)))

    x = inputs = keras.Input((256,))
    for _ in range(3):
        x = layers.Dropout(0.2)(layers.Dense(512, activation="swish")(x))
    mlp = keras.Model(inputs, layers.Dense(10, activation="softmax")(x))

    x = inputs = keras.Input((32, 32, 3))
    skips = []
    for filters in (16, 32):
        x = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", activation="relu")(x))
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    for filters, skip in zip((32, 16), reversed(skips), strict=True):
        x = layers.Concatenate()([layers.Conv2DTranspose(filters, 2, strides=2)(x), skip])
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    unet = keras.Model(inputs, layers.Conv2D(2, 1, activation="softmax")(x))

    x = inputs = keras.Input((64,), dtype="int32")
    x = layers.Embedding(1000, 64)(x)
    for _ in range(2):
        x = layers.LayerNormalization()(layers.Add()([x, layers.MultiHeadAttention(num_heads=2, key_dim=32)(x, x)]))
        x = layers.LayerNormalization()(layers.Add()([x, layers.Dense(64)(layers.Dense(128, activation="gelu")(x))]))
    transformer = keras.Model(inputs, layers.Dense(4)(layers.GlobalAveragePooling1D()(x)))
    return {
        "resnet": (_save(keras, resnet, folder / "resnet.keras"), "8,32,32,3"),
        "mlp": (_save(keras, mlp, folder / "mlp.keras"), "16,256"),
        "unet": (_save(keras, unet, folder / "unet.keras"), "8,32,32,3"),
        "transformer": (_save(keras, transformer, folder / "transformer.keras"), "8,64"),
    }


@pytest.fixture(scope="module")
def small_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    return _small_models(_keras(), tmp_path_factory.mktemp("training"))


@pytest.mark.parametrize("name", ["resnet", "mlp", "unet", "transformer"])
def test_the_activation_rules_track_xlas_compiled_train_step(name: str, small_models: dict[str, Any]) -> None:
    pytest.importorskip("jax")
    path, shape = small_models[name]
    code, out, err = run(path, "--engine", "analytic", "--input", shape, "--measure", "-F", "json")
    assert code == 0, err
    training = json.loads(out)["totals"]["training"]
    measured = training["measured"]
    # the arguments XLA holds are the exact parts: every variable and the optimizer's state, the batch
    # and its targets (JAX's int32 iteration count is 4 bytes where TensorFlow's is 8)
    assert measured["weights"] == training["weights"]
    assert measured["optimizer"] == training["optimizer"] - 4
    assert abs(training["error"]) <= TOLERANCE, training
    assert training["error"] == round((training["peak"] - measured["peak"]) / measured["peak"], 4)


def test_fit_finds_the_largest_batch_under_the_budget(small_models: dict[str, Any]) -> None:
    path, shape = small_models["resnet"]
    code, out, err = run(path, "--engine", "analytic", "--input", shape, "--fit", "1GiB", "-F", "json")
    assert code == 0, err
    training = json.loads(out)["totals"]["training"]
    batch = training["batch"]
    assert training["fit"] == {"budget": 2**30, "batch": batch} and training["peak"] <= 2**30
    report = inspect_model(path, engine="analytic", input=shape)
    above = training_memory(report.rows, batch + 1, parse_optimizer("adam"), "tensorflow")
    assert above.peak is not None and above.peak > 2**30
    code, out, err = run(path, "--engine", "analytic", "--input", shape, "--fit", "1GiB")
    assert code == 0 and f"Fit: batch {batch:,} is the largest" in " ".join(out.split()), out


def test_max_training_memory_in_a_spec_file_and_on_the_command_line(
    small_models: dict[str, Any], tmp_path: Path
) -> None:
    path, _ = small_models["resnet"]
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f'[[model]]\nsource = "{path}"\ninput = [8, 32, 32, 3]\nmax_training_memory = "1MiB"\n\n'
        f'[[model]]\nsource = "{path}"\ninput = [8, 32, 32, 3]\nmax_training_memory = "1GiB"\noptimizer = "sgd"\n'
    )
    result = runner.invoke(app, ["check", str(spec), "--engine", "analytic", "-F", "json"])
    assert result.exit_code == 1, result.stdout + result.stderr
    entries = json.loads(result.stdout)["results"]
    assert [e["status"] for e in entries] == ["failed", "passed"]
    assert entries[0]["checks"][0]["name"] == "max_training_memory" and entries[0]["checks"][0]["expected"] == 2**20
    code, _, err = run(path, "--engine", "analytic", "--input", "8,32,32,3", "--max-training-memory", "1MiB")
    assert code == 1 and "max_training_memory" in err


def test_a_layer_with_no_activation_rule_makes_the_figure_incomplete_and_the_limit_fail(tmp_path: Path) -> None:
    keras = _keras()
    layers = keras.layers
    x = inputs = keras.Input((4, 8, 8, 3))
    x = layers.ConvLSTM2D(4, 3)(x)  # a class with no activation rule
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    path = tmp_path / "convlstm.keras"
    model.save(path)
    code, out, err = run(str(path), "--engine", "keras", "--input", "2,4,8,8,3", "--training",
                         "--max-training-memory", "1TiB")  # fmt: skip
    text = " ".join(out.split())
    assert code == 1, out + err
    assert "Training memory is incomplete: no activation rule for 1 layer call(s) (conv_lstm2d" in text
    assert "max_training_memory: expected at most 1099511627776, actual" in text and "no activation rule" in err
    code, out, err = run(str(path), "--engine", "keras", "--input", "2,4,8,8,3", "--training", "-F", "json")
    totals = json.loads(out)["totals"]["training"]
    assert totals["complete"] is False and totals["no_rule"] == [r for r in totals["no_rule"] if "conv_lstm2d" in r]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "adamm"], "--optimizer: unknown optimizer 'adamm'; known: SGD, RMSprop, Adam,"),
        (["--optimizer", "adam:momentum=0.9"], "--optimizer: Adam has no option 'momentum' that changes its state"),
        (["--optimizer", "sgd:momentum=fast"], "--optimizer: SGD option momentum='fast': expected a number"),
        (["--optimizer", "sgd:gradient_accumulation_steps=1"], "gradient_accumulation_steps must be >= 2"),
        (["--batch", "0"], "--batch: values must be positive; got '0'"),
        (["--batch", "99999999999999"], "--batch:"),
        (["--fit", "1kB"], "--fit: 1,000 bytes (1,000 B) is below the smallest training step"),
        (["--fit", "lots"], "--fit: 'lots' is not a byte count"),
        (["--fit", "1GiB", "--batch", "4"], "--fit: searches the batch: give --fit or --batch, not both"),
        (["--max-training-memory", "-5"], "--max-training-memory: '-5' is not a byte count"),
    ],
)
def test_bad_training_options_are_one_line(args: list[str], message: str, small_models: dict[str, Any]) -> None:
    path, shape = small_models["resnet"]
    code, out, err = run(path, "--engine", "analytic", "--input", shape, *args)
    assert code == 2 and out == "", (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_the_batch_is_the_option_then_the_inputs_then_fits_default(small_models: dict[str, Any]) -> None:
    path, _ = small_models["resnet"]
    report = inspect_model(path, engine="analytic", input="?,32,32,3", training=True)
    assert report.training is not None and (report.training.batch, report.training.batch_from) == (32, "default")
    report = inspect_model(path, engine="analytic", input="4,32,32,3", training=True)
    assert report.training is not None and (report.training.batch, report.training.batch_from) == (4, "input")
    report = inspect_model(path, engine="analytic", input="4,32,32,3", training=TrainingRequest(batch=7))
    assert report.training is not None and (report.training.batch, report.training.batch_from) == (7, "option")


def test_summary_of_a_live_model_gives_the_same_step_as_its_file(tmp_path: Path) -> None:
    import convinspect

    keras = _keras()
    model = _convnet(keras)
    path = tmp_path / "m.keras"
    model.save(path)
    live = convinspect.summary(model, training=convinspect.TrainingRequest(optimizer="rmsprop:centered", batch=8))
    saved = inspect_model(str(path), engine="analytic", training=TrainingRequest(optimizer="rmsprop:centered", batch=8))
    assert live.training is not None and saved.training is not None
    assert live.training.peak == saved.training.peak and live.training.optimizer_bytes == saved.training.optimizer_bytes
    assert live._repr_mimebundle_()["application/json"]["totals"]["training"]["peak"] == live.training.peak
    assert "Training, one step of RMSprop (centered=True) at batch 8 (as asked)" in " ".join(str(live).split())


def test_summary_takes_the_batch_of_its_input_shape_and_refuses_what_has_no_step() -> None:
    import convinspect

    keras = _keras()
    model = _convnet(keras)
    single = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten()])
    shaped = convinspect.summary(single, (4, 16, 16, 3), training=True)
    assert shaped.training is not None and (shaped.training.batch, shaped.training.batch_from) == (4, "input")
    with pytest.raises(convinspect.InvalidInput, match="training: expected True or a TrainingRequest; got str"):
        convinspect.summary(model, training="adam")  # type: ignore[arg-type]
    layer = keras.layers.Conv2D(4, 3)
    with pytest.raises(convinspect.InvalidInput, match="a conv layer alone has no loss to train"):
        convinspect.summary(layer, (1, 8, 8, 3), training=True)


def test_a_call_repeated_on_the_same_input_is_one_tensor_as_xla_merges_it(tmp_path: Path) -> None:
    """NASNet applies relu(p) in each branch: XLA computes it once (common subexpressions), so the
    second call keeps nothing more; a dropout draws afresh each time, so its repeat counts again."""
    keras = _keras()
    layers = keras.layers

    def model(branches: int, layer: Any) -> Any:
        x = inputs = keras.Input((16, 16, 8))
        x = layers.Conv2D(8, 3, padding="same")(x)
        outs = [layers.Conv2D(8, 1)(layer()(x)) for _ in range(branches)]
        return keras.Model(inputs, layers.Add()(outs) if branches > 1 else outs[0])

    def kept(m: Any) -> int:
        path = tmp_path / "m.keras"
        m.save(path)
        memory = training_memory(
            inspect_model(str(path), engine="analytic").rows, 4, parse_optimizer("sgd"), "tensorflow"
        )
        assert memory.activations is not None
        return memory.activations

    relu_one, relu_two = kept(model(1, layers.ReLU)), kept(model(2, layers.ReLU))
    assert relu_two == relu_one  # the second relu(x) is the first: the second 1x1 conv keeps the same tensor
    drop_one, drop_two = kept(model(1, lambda: layers.Dropout(0.5))), kept(model(2, lambda: layers.Dropout(0.5)))
    assert drop_two > drop_one


def test_measure_without_jax_is_one_line_naming_the_extra(small_models: dict[str, Any]) -> None:
    import subprocess
    import sys

    path, shape = small_models["mlp"]
    code = (
        "import sys; sys.modules['jax'] = None; from convinspect.cli import main; "
        f"sys.argv = ['convinspect', 'model', {path!r}, '--engine', 'analytic', '--input', {shape!r}, '--measure']; "
        "main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert lines == ["convinspect: error: --measure: compiling the train step needs Keras' JAX backend, and JAX is "
                     "not installed: pip install 'convinspect[jax]'"], proc.stderr  # fmt: skip
