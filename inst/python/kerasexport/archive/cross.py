"""Archives on PyTorch: recorded here, built by a TensorFlow worker (`kerasexport.cross.archive`).

Keras's archive on PyTorch needs `torch_xla`. Here an endpoint is a tracked
Keras model or layer (the model or layer itself, its `call` or `__call__`,
with ``training=`` true or false), a collection is a list of the tracked
models' variables, and `write` has a TensorFlow worker rebuild the same
archive from `.keras` files and write it; the facade verifies the result
against the PyTorch models.
"""

from kerasexport import errors

ROUTE = "cross-backend"
_TORCH_ENDPOINTS = (
    "On the PyTorch backend an endpoint is a tracked Keras model or layer: "
    "the model or layer itself, its `call` or `__call__` method, or "
    "functools.partial(model.call, training=True); the archive is built "
    "from them by the TensorFlow backend in a worker process."
)


class CrossBuilder:
    """Builds the SavedModel in a TensorFlow worker process."""

    route = ROUTE

    def __init__(self, plan):
        self._plan = plan

    def variables(self, kind):
        """The tracked models' and layers' `variables` (or trainable, non-trainable ones)."""
        return [v for r in self._plan.tracked if hasattr(r, "variables") for v in getattr(r, kind)]

    @property
    def tf_trackable(self):
        raise AttributeError("_tf_trackable: the PyTorch backend builds it in the worker process")

    def check_owner(self, name, fn, owner):
        """Refuse an endpoint built from no Keras model or layer.

        Raises:
            EndpointError: what it got, and what an endpoint is here.
        """
        if owner is None:
            from kerasexport.archive import endpoints

            raise errors.EndpointError(
                f"Endpoint {name!r}: {endpoints.describe_fn(fn)} is not supported on the "
                f"PyTorch backend. {_TORCH_ENDPOINTS}"
            )

    def track(self, resource):
        """Models and layers only: a TensorFlow resource cannot travel to the worker.

        Raises:
            ModelError: for anything else trackable.
        """
        import keras

        if not isinstance(resource, keras.layers.Layer):
            raise errors.ModelError(
                "On the PyTorch backend the archive tracks Keras models and "
                "layers only (it is built by the TensorFlow backend in a "
                "worker process, where a TensorFlow resource of this process "
                f"cannot go); received a {type(resource).__name__}."
            )

    def add_endpoint(self, endpoint):
        """Nothing to trace here; the endpoint's function is `fn` itself."""
        return endpoint.fn

    def add_variable_collection(self, name, variables):
        """The variables as given, once each is found in a tracked model.

        Raises:
            ArgumentError: for a variable no tracked model or layer holds.
        """
        from kerasexport.cross import archive as cross_archive

        cross_archive.locate_variables(name, variables, self._plan.tracked)
        return variables

    def check_save_options(self, options):
        """Refuse `options`, which cannot reach the worker.

        Raises:
            OptionError: for any `tf.saved_model.SaveOptions`.
        """
        if options is not None:
            raise errors.OptionError(
                "`options` (tf.saved_model.SaveOptions) cannot reach the "
                "worker process that writes the archive on the PyTorch backend; "
                "leave it unset."
            )

    def write(self, path, options, verbose):
        """Have the TensorFlow worker write the SavedModel to `path`.

        Raises:
            RouteError: when the worker cannot build it.
        """
        from kerasexport.cross import archive as cross_archive

        cross_archive.write(self._plan, path, verbose)
