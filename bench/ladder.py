"""The benchmark's model ladder, built in code (no downloaded weights)."""

import keras
import numpy as np

LADDER = ("mlp", "light_cnn", "cnn", "mobilenet_v3_large", "resnet50")
QUICK = ("mlp",)


def build(name):
    """A built model and its per-sample input shape."""
    keras.utils.set_random_seed(0)
    if name == "mlp":  # ~10k parameters
        shape = (64,)
        model = keras.Sequential([
            keras.Input(shape), keras.layers.Dense(96, activation="relu"),
            keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10),
        ])
    elif name == "light_cnn":  # ~6k parameters: the runtime's own cost is small
        shape = (32, 32, 3)
        model = keras.Sequential([
            keras.Input(shape),
            keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10),
        ])
    elif name == "cnn":  # ~1M parameters
        shape = (32, 32, 3)
        model = keras.Sequential([
            keras.Input(shape),
            keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.BatchNormalization(),
            keras.layers.Conv2D(128, 3, activation="relu"), keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(256, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2048, activation="relu"), keras.layers.Dense(10),
        ])
    elif name == "mobilenet_v3_large":  # ~5M parameters
        shape = (224, 224, 3)
        model = keras.applications.MobileNetV3Large(weights=None, input_shape=shape)
    elif name == "resnet50":  # ~25M parameters
        shape = (224, 224, 3)
        model = keras.applications.ResNet50(weights=None, input_shape=shape)
    else:
        raise ValueError(f"Unknown model {name!r}. Available: {LADDER}")
    # A trained model has been called; Keras's ONNX exporter insists on it.
    model(np.zeros((1,) + shape, dtype="float32"), training=False)
    return model, shape
