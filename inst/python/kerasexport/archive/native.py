"""Archives on TensorFlow and JAX: Keras's own `ExportArchive`, fed as calls come.

Each `track()`, `add_endpoint()` and `add_variable_collection()` reaches
Keras's archive at once, so tracing errors surface at the call that caused
them (naming the endpoint) and `add_endpoint()` returns Keras's
`tf.function`. On JAX an endpoint binds the variables tracked when it was
added; a resource tracked later would break it when saved, so the archive
is then rebuilt, everything tracked first, before it is written.
"""

from kerasexport import errors
from kerasexport import quiet
from kerasexport import scrub
from kerasexport.archive import endpoints as endpoints_lib

ROUTE = "native"


class NativeBuilder:
    """Builds the SavedModel with Keras's archive in this process."""

    route = ROUTE

    def __init__(self, plan):
        import keras

        self._plan = plan
        self._keras = keras.export.ExportArchive()
        self._rebuild_before_writing = False

    def variables(self, kind):
        """Keras's `variables`, `trainable_variables` or `non_trainable_variables`."""
        return getattr(self._keras, kind)

    @property
    def tf_trackable(self):
        """Where Keras's archive keeps endpoints and collections (Keras's tests read it)."""
        return self._keras._tf_trackable

    def check_owner(self, name, fn, owner):
        """Any callable Keras can trace is an endpoint here."""

    def track(self, resource):
        self._keras.track(resource)
        self._rebuild_before_writing |= self._plan.backend == "jax" and bool(self._plan.endpoints)

    def add_endpoint(self, endpoint):
        """Add `endpoint` to Keras's archive and trace it; Keras's function."""
        fn = endpoint.fn
        if endpoint.reference is not None and endpoint.specs is not None and endpoint.training is None:
            fn = endpoints_lib.in_inference_mode(fn)
        with quiet.quiet(None), scrub.source_paths_hidden(self._plan.backend):
            try:
                function = self._keras.add_endpoint(endpoint.name, fn, endpoint.specs, **endpoint.options)
                if endpoint.specs is not None:
                    function.get_concrete_function()  # trace now, name the culprit
            except errors.KerasexportError:
                raise
            except Exception as exc:
                _forget_endpoint(self._keras, endpoint.name)
                raise errors.endpoint_error_like(
                    exc, f"Endpoint {endpoint.name!r} could not be traced with its "
                    f"input signature: {type(exc).__name__}: {exc}"
                ) from exc
        return function

    def add_variable_collection(self, name, variables):
        """The collection as Keras's archive holds it (`tf.Variable`s on JAX)."""
        self._keras.add_variable_collection(name, variables)
        return getattr(self._keras._tf_trackable, name)

    def check_save_options(self, options):
        """Keras's archive takes any `tf.saved_model.SaveOptions`."""

    def write(self, path, options, verbose):
        """Write the SavedModel to `path` (a staging path)."""
        if self._rebuild_before_writing:
            self._rebuild()
        self._keras.write_out(path, options=options, verbose=bool(verbose))

    def _rebuild(self):
        """A fresh Keras archive: everything tracked first, then the endpoints.

        Functions returned by earlier `add_endpoint()` calls keep working
        for their callers; the archive's attributes name the new ones.
        """
        import keras

        plan = self._plan
        self._keras = keras.export.ExportArchive()
        for resource in plan.tracked:
            self._keras.track(resource)
        for endpoint in plan.endpoints.values():
            endpoint.function = self.add_endpoint(endpoint)
        for name, variables in plan.collection_sources.items():
            plan.collections[name] = self.add_variable_collection(name, variables)
        self._rebuild_before_writing = False


def write_unverified(tracked, endpoints, collections, path, verbose):
    """Build Keras's archive from records and write it to `path`: no staging, no check.

    For the TensorFlow worker that builds a PyTorch model's archive: its
    parent stages, verifies and lands what it writes.

    Args:
        tracked: the models and layers to track.
        endpoints: (name, fn, signature) of each endpoint.
        collections: (name, variables) of each variable collection.
        path: `str`, where to write.
        verbose: `bool` or `None`.
    """
    import keras

    from kerasexport.archive.plan import ArchivePlan

    plan = ArchivePlan(keras.backend.backend())
    builder = NativeBuilder(plan)
    for resource in tracked:
        builder.track(resource)
        plan.tracked.append(resource)
    for name, fn, signature in endpoints:
        endpoint = endpoints_lib.describe(name, fn, signature, None, {}, builder.check_owner)
        endpoint.function = builder.add_endpoint(endpoint)
        plan.endpoints[name] = endpoint
    for name, variables in collections:
        plan.collection_sources[name] = variables
        plan.collections[name] = builder.add_variable_collection(name, variables)
    builder.write(path, None, verbose)


def _forget_endpoint(keras_archive, name):
    """Undo Keras's record of an endpoint that failed to trace."""
    if name in getattr(keras_archive, "_endpoint_names", []):
        keras_archive._endpoint_names.remove(name)
    getattr(keras_archive, "_endpoint_signatures", {}).pop(name, None)
    if hasattr(keras_archive._tf_trackable, name):
        delattr(keras_archive._tf_trackable, name)
