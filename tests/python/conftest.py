import os

import keras
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def backend():
    return keras.backend.backend()


@pytest.fixture
def small_model():
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )


def predict(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
