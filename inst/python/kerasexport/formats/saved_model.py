"""TensorFlow SavedModel: written by Keras's exporter, run by TensorFlow."""

import numpy as np

from kerasexport import formats

FORMAT = "tf_saved_model"
IS_DIRECTORY = True
ENDPOINT = "serve"
# Options Keras's SavedModel exporter accepts, per backend (Keras refuses
# `is_static` and `jax2tf_kwargs` on any backend but JAX).
OPTIONS = {
    "tensorflow": (),
    "jax": ("is_static", "jax2tf_kwargs"),
    "torch": (),
}


def write(model, path, input_signature, verbose, **options):
    """Export `model` to a SavedModel directory at `path` with Keras, in inference mode."""
    from keras.src.export import saved_model

    with formats.inference_mode():
        saved_model.export_saved_model(
            model, path, verbose=bool(verbose), input_signature=input_signature, **options
        )


def finish(path, output_names=None):
    """Nothing to do: Keras writes a SavedModel whole, and keeps its outputs' names."""


def load(path):
    """Load a SavedModel with TensorFlow alone."""
    import tensorflow as tf

    return tf.saved_model.load(path)


def run(loaded, args, endpoint=ENDPOINT):
    """Call an endpoint with positional `args`; outputs as NumPy."""
    import tensorflow as tf

    fn = getattr(loaded, endpoint)
    outputs = fn(*args)
    return tf.nest.map_structure(lambda t: np.asarray(t), outputs)
