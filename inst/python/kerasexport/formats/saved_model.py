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


def runner(path, signature, options=None):
    """Run the SavedModel as a user would: `tf.saved_model.load`, then `serve`.

    Returns:
        A function of the model's positional arguments returning its outputs.

    Raises:
        VerificationError: when TensorFlow cannot load the directory.
    """
    from kerasexport import errors
    from kerasexport import routes

    try:
        loaded = load(path)
    except Exception as exc:
        raise errors.VerificationError(
            f"The exported artifact could not be loaded by its runtime: {routes.describe(exc)}"
        ) from exc
    return lambda args: run(loaded, args)


def run(loaded, args, endpoint=ENDPOINT):
    """Call an endpoint with positional `args`; outputs as NumPy."""
    import tensorflow as tf

    fn = getattr(loaded, endpoint)
    outputs = fn(*args)
    return tf.nest.map_structure(lambda t: np.asarray(t), outputs)
