"""A Functional model that runs a subclassed model's `call()` on the same layers.

Keras saves a subclassed model through its config. A model built from
arguments Keras cannot put in a config (``CustomModel([Dense(10), ...])``:
a list of layers) and without its own `get_config()` cannot be saved, so it
could not reach the cross-backend worker. Its `call()` can still be traced
on symbolic inputs: each layer it calls becomes a node of a Functional
model sharing the original layers and weights, and that model saves with
the layers' own configs. The caller verifies the artifact against the
original model, so a trace that differs from it is caught.
"""

from kerasexport import errors


def functional_copy(model, signature):
    """A `keras.Model` computing `model.call` on the inputs `signature` describes.

    Args:
        model: a subclassed `keras.Model` with one positional input.
        signature: the normalized signature (a list with one entry).

    Returns:
        A Functional `keras.Model` sharing `model`'s layers.

    Raises:
        RouteError: when `model` takes several positional inputs, or its
            `call()` cannot be traced symbolically.
    """
    import keras

    from kerasexport import routes

    if len(signature) != 1:
        raise errors.RouteError(
            f"The model's call() takes {len(signature)} positional inputs, and only "
            "a model taking one can be traced into a Functional model."
        )

    def symbolic(spec):
        return keras.Input(batch_shape=spec.shape, dtype=spec.dtype, name=spec.name)

    inputs = keras.tree.map_structure(symbolic, signature[0])
    try:
        outputs = model.call(inputs)
        return keras.Model(inputs, outputs, name=model.name)
    except Exception as exc:
        raise errors.RouteError(
            f"Its call() could not be traced into a Functional model ({routes.describe(exc)})."
        ) from exc
