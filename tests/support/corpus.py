"""A corpus of real models nobody on this project wrote the way they are saved: Keras 2 files from
tf_keras, keras_hub backbones built from constructor arguments, and Keras 3 models in the style of
the keras.io examples. Each is built at test time (weights=None, nothing downloaded) and saved the
way its users save it; `count_macs` is an independent MAC count from the framework's own layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Model:
    source: str  # tf_keras | keras_hub | keras3
    name: str
    path: Path
    model: Any  # the framework's own object
    imports: tuple[str, ...] = ()
    macs: int | None = None  # worked out by hand where count_macs cannot see a layer's shapes (attention)


def vit_macs(image: int, patch: int, hidden: int, mlp: int, layers: int, channels: int = 3) -> int:
    """A ViT's MACs per example, from its definition: the patch conv, then per encoder layer the
    query/key/value projections, the scores, the weighted sum, the output projection and the MLP,
    over the patches and the class token (the heads split `hidden`, so they do not change the count)."""
    patches = (image // patch) ** 2
    tokens = patches + 1
    embed = patches * hidden * patch * patch * channels
    attention = 3 * tokens * hidden * hidden + 2 * tokens * tokens * hidden + tokens * hidden * hidden
    return embed + layers * (attention + 2 * tokens * hidden * mlp)


# -- an independent MAC count ----------------------------------------------------------------

_CONV = {"Conv1D", "Conv2D", "Conv3D"}
_TRANSPOSE = {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
_DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}
_SEPARABLE = {"SeparableConv1D", "SeparableConv2D"}
_RNN = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}  # gates


def layer_macs(class_name: str, config: dict[str, Any], inputs: tuple[int, ...], output: tuple[int, ...]) -> int:
    """Multiply-accumulates of one call, per example, from the layer's config and its shapes (no batch)."""
    last = config.get("data_format", "channels_last") != "channels_first"

    def channels(shape: tuple[int, ...]) -> int:
        return shape[-1] if last else shape[0]

    def cells(shape: tuple[int, ...]) -> int:
        return math.prod(shape[:-1] if last else shape[1:])

    if class_name == "Dense":
        return math.prod(output[:-1]) * inputs[-1] * int(config["units"])
    if class_name in _RNN:  # every step: each gate's input and recurrent matrix products
        units = int(config["units"])
        return inputs[0] * _RNN[class_name] * (inputs[-1] + units) * units
    taps = math.prod(config["kernel_size"])  # the conv kinds
    if class_name in _CONV:
        return cells(output) * int(config["filters"]) * taps * (channels(inputs) // int(config.get("groups", 1)))
    if class_name in _TRANSPOSE:  # every input cell scatters a kernel of taps into every filter
        return cells(inputs) * taps * channels(inputs) * int(config["filters"])
    multiplier = int(config.get("depth_multiplier", 1))
    depthwise = cells(output) * channels(inputs) * multiplier * taps
    if class_name in _DEPTHWISE:
        return depthwise
    if class_name in _SEPARABLE:
        return depthwise + cells(output) * channels(inputs) * multiplier * int(config["filters"])
    return 0


COUNTED = {"Dense", *_CONV, *_TRANSPOSE, *_DEPTHWISE, *_SEPARABLE, *_RNN}


def count_macs(model: Any) -> int:
    """Every conv and Dense layer of the model, nested ones and those inside custom layers too, once
    per call, from the shapes each was built for (Keras 3) or called with (tf_keras)."""
    total = 0
    for layer in _layers(model):
        name = type(layer).__name__
        if name not in COUNTED:
            continue
        for inputs, output in _shapes(layer):
            total += layer_macs(name, layer.get_config(), inputs, output)
    return total


def _layers(model: Any) -> Iterator[Any]:
    yield from model._flatten_layers(include_self=False, recursive=True)


def _shapes(layer: Any) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    nodes = [n for n in getattr(layer, "_inbound_nodes", []) if _node_shapes(n) is not None]
    if nodes:
        for node in nodes:
            yield _node_shapes(node)  # type: ignore[misc]
        return
    built = (layer.get_build_config() or {}).get("input_shape")  # a sublayer called inside a custom layer
    output = layer.compute_output_shape(tuple(built))
    yield tuple(built[1:]), tuple(output[1:])


def _node_shapes(node: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    if hasattr(node, "input_shapes"):  # tf_keras
        inputs, outputs = node.input_shapes, node.output_shapes
        inputs = inputs[0] if isinstance(inputs, list) else inputs
        outputs = outputs[0] if isinstance(outputs, list) else outputs
        if inputs is None or any(d is None for d in tuple(inputs)[1:]):
            return None
        return tuple(inputs)[1:], tuple(outputs)[1:]
    tensors = getattr(node, "input_tensors", None) or []
    outputs = getattr(node, "outputs", None) or []
    if not tensors or not outputs or any(d is None for d in tensors[0].shape[1:]):
        return None
    return tuple(tensors[0].shape[1:]), tuple(outputs[0].shape[1:])


# -- the models ------------------------------------------------------------------------------


def tf_keras_models(folder: Path) -> list[Model]:
    """Keras 2 files, as tf_keras writes them: .h5, to_json() and its .keras archive, in turn."""
    import tf_keras as k2

    layers = k2.layers

    def unet() -> Any:
        x = k2.Input((32, 32, 3))
        a = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        b = layers.BatchNormalization()(layers.Conv2D(16, 3, padding="same")(layers.MaxPooling2D()(a)))
        u = layers.Concatenate()([layers.Conv2DTranspose(8, 2, strides=2)(b), a])
        y = layers.DepthwiseConv2D(3, padding="same")(layers.SeparableConv2D(8, 3, padding="same")(u))
        return k2.Model(x, layers.Conv2D(1, 1, activation="sigmoid")(y), name="unet")

    def autoencoder() -> Any:
        x = k2.Input((28, 28, 1))
        y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
        y = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(y)
        y = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(y)
        y = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(y)
        return k2.Model(x, layers.Conv2D(1, 3, padding="same", activation="sigmoid")(y), name="autoencoder")

    def sequential() -> Any:
        return k2.Sequential([layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)), layers.MaxPooling2D(),
                              layers.Flatten(), layers.Dropout(0.5), layers.Dense(10)], name="mnist_k2")  # fmt: skip

    apps = k2.applications
    builders: dict[str, Callable[[], Any]] = {
        "unet": unet,
        "autoencoder": autoencoder,
        "mnist_k2": sequential,
        "mobilenet": lambda: apps.MobileNet(weights=None, alpha=0.25, input_shape=(32, 32, 3), classes=10),
        "mobilenetv2": lambda: apps.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=10),
        "densenet121": lambda: apps.DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10),
        "efficientnetb0": lambda: apps.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10),
        "resnet50": lambda: apps.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10),
        "vgg16": lambda: apps.VGG16(weights=None, input_shape=(32, 32, 3), classes=10),
        "xception": lambda: apps.Xception(weights=None, input_shape=(71, 71, 3), classes=10),
        "inceptionv3": lambda: apps.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=10),
        "nasnetmobile": lambda: apps.NASNetMobile(weights=None, input_shape=(32, 32, 3), classes=10),
    }
    found = []
    for index, (name, build) in enumerate(builders.items()):
        model = build()
        suffix = (".h5", ".json", ".keras")[index % 3]
        path = folder / f"k2_{name}{suffix}"
        if suffix == ".json":
            path.write_text(model.to_json())
        else:
            model.save(path)
        found.append(Model("tf_keras", name, path, model))
    return found


def keras_hub_models(keras: Any, folder: Path) -> list[Model]:
    """keras_hub backbones and a task model, from constructor arguments, saved with model.save()."""
    import keras_hub

    m = keras_hub.models
    resnet = dict(input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 32],
                  stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
                  use_pre_activation=False, image_shape=(32, 32, 3))  # fmt: skip
    builders: dict[str, Callable[[], Any]] = {
        "resnet": lambda: m.ResNetBackbone(**resnet),
        "resnet_v2": lambda: m.ResNetBackbone(**{**resnet, "use_pre_activation": True}),
        "classifier": lambda: m.ImageClassifier(backbone=m.ResNetBackbone(**resnet), num_classes=5),
        "vgg": lambda: m.VGGBackbone(
            stackwise_num_repeats=[1, 2], stackwise_num_filters=[8, 16], image_shape=(32, 32, 3)
        ),
        "densenet": lambda: m.DenseNetBackbone(stackwise_num_repeats=[1, 2], image_shape=(32, 32, 3), growth_rate=8),
        "xception": lambda: m.XceptionBackbone(
            stackwise_conv_filters=[[8, 16], [16, 16]], stackwise_pooling=[True, False], image_shape=(32, 32, 3)
        ),
        # keras_hub's Identity layers cannot be serialized: the model is read from its live calls
        "hgnetv2": lambda: m.HGNetV2Backbone(
            depths=[1, 1],
            embedding_size=8,
            hidden_sizes=[16, 32],
            stem_channels=[3, 8, 8],
            hidden_act="relu",
            use_learnable_affine_block=False,
            stackwise_stage_filters=[(8, 8, 16, 1, 1, 3), (16, 8, 32, 1, 1, 3)],
            apply_downsample=[False, True],
            use_lightweight_conv_block=[False, True],
            image_shape=(32, 32, 3),
        ),
        "vit": lambda: m.ViTBackbone(
            image_shape=(32, 32, 3), patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32
        ),
    }
    hand = {"vit": vit_macs(32, 8, 16, 32, 1)}
    found = []
    for name, build in builders.items():
        model = build()
        path = folder / f"hub_{name}.keras"
        model.save(path)
        if (
            name == "hgnetv2"
        ):  # keras_hub names its sublayers anew when the file is loaded: the file's model is the truth
            model = keras.saving.load_model(path)
        found.append(Model("keras_hub", name, path, model, imports=("keras_hub",), macs=hand.get(name)))
    return found


def keras3_models(keras: Any, folder: Path, custom: dict[str, Any]) -> list[Model]:
    """Keras 3 models the way the keras.io examples write them."""
    L = keras.layers

    def mnist() -> Any:
        return keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
                                 L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5),
                                 L.Dense(10, activation="softmax")], name="mnist")  # fmt: skip

    def residual() -> Any:
        x = keras.Input((32, 32, 3))
        y = L.Conv2D(16, 3, padding="same")(x)
        for _ in range(2):
            r = L.Conv2D(16, 3, padding="same", activation="relu")(y)
            y = L.Add()([y, L.Conv2D(16, 3, padding="same")(r)])
        return keras.Model(x, L.Dense(10)(L.GlobalAveragePooling2D()(y)), name="residual")

    def augmented() -> Any:
        augment = keras.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1)], name="augment")
        x = keras.Input((32, 32, 3))
        y = L.Rescaling(1 / 255)(augment(x))
        return keras.Model(x, L.Dense(2)(L.Flatten()(L.Conv2D(8, 3)(y))), name="augmented")

    def unet3() -> Any:
        x = keras.Input((32, 32, 1))
        d = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        d = L.SeparableConv2D(16, 3, strides=2, padding="same")(d)
        u = L.Conv2DTranspose(8, 3, strides=2, padding="same")(d)
        u = L.UpSampling2D()(u)
        return keras.Model(x, L.Conv2D(2, 3, padding="same", activation="softmax")(u), name="unet3")

    def text() -> Any:
        x = keras.Input((20,), dtype="int32")
        y = L.Embedding(1000, 16)(x)
        y = L.Bidirectional(L.LSTM(8))(y)
        return keras.Model(x, L.Dense(1, activation="sigmoid")(y), name="text")

    def conv1d() -> Any:
        x = keras.Input((100, 4))
        y = L.Conv1D(8, 5, activation="relu")(x)
        y = L.SeparableConv1D(8, 3, padding="same")(L.MaxPooling1D()(y))
        return keras.Model(x, L.Dense(3)(L.GlobalMaxPooling1D()(y)), name="timeseries")

    def video() -> Any:
        x = keras.Input((4, 16, 16, 3))
        y = L.Conv3D(4, 3, padding="same", activation="relu")(x)
        y = L.Conv3DTranspose(2, 2, strides=(1, 2, 2))(L.MaxPooling3D((1, 2, 2))(y))
        return keras.Model(x, L.Dense(1)(L.GlobalAveragePooling3D()(y)), name="video")

    def nested_head() -> Any:
        head = keras.Sequential([L.GlobalAveragePooling2D(), L.Dense(10)], name="head")
        x = keras.Input((32, 32, 3))
        return keras.Model(x, head(L.Conv2D(8, 3)(x)), name="nested_head")

    def blocks() -> Any:
        x = keras.Input((16, 16, 8))
        return keras.Model(x, L.Dense(2)(L.GlobalAveragePooling2D()(custom["Residual"](8)(x))), name="blocks")

    def own_call() -> Any:
        model = custom["OwnCall"](name="own_call")
        model(keras.ops.zeros((1, 16, 16, 3)))
        return model

    builders: dict[str, Callable[[], Any]] = {
        "mnist": mnist,
        "residual": residual,
        "augmented": augmented,
        "unet3": unet3,
        "text": text,
        "timeseries": conv1d,
        "video": video,
        "nested_head": nested_head,
        "blocks": blocks,
        "own_call": own_call,
        "mobilenetv3small": lambda: _application(keras, "MobileNetV3Small", minimalistic=True),
        "efficientnetv2b0": lambda: _application(keras, "EfficientNetV2B0"),
    }
    found = []
    for name, build in builders.items():
        model = build()
        suffix = ".h5" if name in ("mnist", "residual") else ".keras"
        path = folder / f"k3_{name}{suffix}"
        model.save(path)
        found.append(Model("keras3", name, path, model))
    return found


def _application(keras: Any, name: str, **extra: Any) -> Any:
    return getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=10, **extra)
