"""A corpus of real models nobody on this project wrote the way they are saved: Keras 2 files from
tf_keras, keras_hub backbones built from constructor arguments, and Keras 3 models in the style of
the keras.io examples. Each is built at test time (weights=None, nothing downloaded) and saved the
way its users save it. Two independent MAC counts: `count_macs` from the framework's own layers and
their shapes, and `graph_macs` from the operations TensorFlow traces when the model runs.
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
    macs: int | None = None  # by hand or from graph_macs, where count_macs cannot see a layer's shapes
    renamed: bool = False  # its layers take new automatic names each time the file is loaded


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


_PRODUCTS = {"Conv2D", "Conv3D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2", "Einsum"}


def graph_macs(model: Any, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one run on an input of `shape`, from the operations TensorFlow traces
    (nested functions included): TensorFlow's own cost of each product, an einsum's from its indices.
    A dilated conv runs on a space-to-batch copy of its input; it is counted on the layer's output."""
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False))
    return _graph_macs(function.get_concrete_function(tf.TensorSpec(shape, tf.float32)).graph)


def _graph_macs(graph: Any) -> int:
    from tensorflow.python.framework import ops

    total = 0
    for op in graph.get_operations():
        if op.type in ("StatefulPartitionedCall", "PartitionedCall"):
            total += _graph_macs(graph._get_function(op.get_attr("f").name).graph)
        if op.type not in _PRODUCTS:
            continue
        if op.type == "Einsum":  # every combination of the indices is one multiply-accumulate
            sizes = {}
            for letters, tensor in zip(op.get_attr("equation").decode().split("->")[0].split(","), op.inputs):
                sizes.update(zip(letters, tensor.shape))
            macs = math.prod(sizes.values())
        else:
            macs = ops.get_stats_for_node_def(graph, op.node_def, "flops").value // 2
        output = op.outputs[0]
        spread = [c for c in output.consumers() if c.type == "BatchToSpaceND"]
        if spread:
            macs = macs * math.prod(spread[0].outputs[0].shape) // math.prod(output.shape)
        total += macs
    return total


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
    for name, build in [*builders.items(), *_more_backbones(m).items()]:
        model = build()
        path = folder / f"hub_{name}.keras"
        model.save(path)
        if name == "hgnetv2" or name not in builders:  # keras_hub may name its sublayers anew when the file is
            model = keras.saving.load_model(path)  # loaded: the file's model is the truth
        macs = hand.get(name)
        if name not in builders:  # nested models built for any image size: count_macs sees no shapes inside
            macs = graph_macs(model, (1, *model.inputs[0].shape[1:]))
        found.append(Model("keras_hub", name, path, model, imports=("keras_hub",), macs=macs,
                           renamed=name not in builders))  # fmt: skip
    return found


def _more_backbones(m: Any) -> dict[str, Callable[[], Any]]:
    """More keras_hub vision backbones, each at a tiny configuration (MAC count: graph_macs)."""

    def encoder(filters: list[int], shape: tuple[int | None, ...] = (None, None, 3)) -> Any:
        return m.ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=filters,
                                stackwise_num_blocks=[1] * len(filters), stackwise_num_strides=[1, 2, 2, 2],
                                block_type="basic_block", image_shape=shape)  # fmt: skip

    csp = dict(stem_filters=8, stem_kernel_size=3, stem_strides=1, stackwise_depth=[1, 1], stackwise_strides=[1, 2],
               stackwise_num_filters=[8, 16], bottle_ratio=[0.5], image_shape=(32, 32, 3))  # fmt: skip
    mit = dict(image_shape=(32, 32, 3), num_layers=2, hidden_dims=[8, 16], layerwise_depths=[1, 1],
               layerwise_num_heads=[1, 2], layerwise_sr_ratios=[2, 1], layerwise_patch_sizes=[7, 3],
               layerwise_strides=[4, 2], max_drop_path_rate=0.1)  # fmt: skip
    return {
        "cspnet": lambda: m.CSPNetBackbone(**csp, block_type="bottleneck_block", stage_type="csp", block_ratio=[0.5]),
        "cspnet_dark": lambda: m.CSPNetBackbone(**csp, block_type="dark_block", stage_type="dark"),
        "mobilenet": lambda: m.MobileNetBackbone(
            stackwise_expansion=[[16, 24]],
            stackwise_num_blocks=[2],
            stackwise_num_filters=[[8, 16]],
            stackwise_kernel_size=[[3, 3]],
            stackwise_num_strides=[[2, 1]],
            stackwise_se_ratio=[[None, 0.25]],
            stackwise_activation=[["relu", "hard_swish"]],
            stackwise_padding=[[1, 1]],
            output_num_filters=32,
            depthwise_filters=8,
            depthwise_stride=2,
            depthwise_residual=False,
            last_layer_filter=32,
            squeeze_and_excite=0.5,
            image_shape=(32, 32, 3),
            input_num_filters=8,
        ),
        "efficientnet": lambda: m.EfficientNetBackbone(
            stackwise_width_coefficients=[1.0, 1.0],
            stackwise_depth_coefficients=[1.0, 1.0],
            stackwise_kernel_sizes=[3, 3],
            stackwise_num_repeats=[1, 1],
            stackwise_input_filters=[8, 8],
            stackwise_output_filters=[8, 16],
            stackwise_expansion_ratios=[1, 4],
            stackwise_squeeze_and_excite_ratios=[0.0, 0.25],
            stackwise_strides=[1, 2],
            stackwise_block_types=["fused", "unfused"],
            input_shape=(32, 32, 3),
        ),
        "dinov2": lambda: m.DINOV2Backbone(
            patch_size=8,
            num_layers=2,
            hidden_dim=16,
            num_heads=2,
            intermediate_dim=32,
            image_shape=(32, 32, 3),
            position_embedding_shape=(32, 32, 3),
        ),
        "deeplabv3": lambda: m.DeepLabV3Backbone(
            image_encoder=encoder([64, 16, 16, 16], (32, 32, 3)),
            spatial_pyramid_pooling_key="P4",
            upsampling_size=4,
            dilation_rates=[2, 4],
            low_level_feature_key="P2",
            projection_filters=8,
            image_shape=(32, 32, 3),
        ),
        "retinanet": lambda: m.RetinaNetBackbone(
            image_encoder=encoder([64, 16, 16, 16], (64, 64, 3)),
            min_level=3,
            max_level=5,
            use_p5=False,
            image_shape=(64, 64, 3),
        ),
        # attention in einsums and matmuls, counted from their operands
        "mit": lambda: m.MiTBackbone(**mit),
        "segformer": lambda: m.SegFormerBackbone(image_encoder=m.MiTBackbone(**mit), projection_filters=16),
        "swin": lambda: m.SwinTransformerBackbone(
            image_shape=(32, 32, 3), embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=4, patch_size=4
        ),
        "vitdet": lambda: m.ViTDetBackbone(
            hidden_size=16,
            num_layers=2,
            intermediate_dim=32,
            num_heads=2,
            global_attention_layer_indices=[1],
            image_shape=(32, 32, 3),
            patch_size=8,
            num_output_channels=16,
            window_size=2,
        ),
        # holds the encoder's stem without calling it: its variables count, on rows marked "not called"
        "basnet": lambda: m.BASNetBackbone(
            image_encoder=encoder([64, 8, 8, 8]), num_classes=1, image_shape=(32, 32, 3), projection_filters=64
        ),
    }


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
