"""Several named endpoints in one verified SavedModel: `ExportArchive`.

`ExportArchive` is a drop-in for Keras's `keras.export.ExportArchive`: the
same methods and properties (`track`, `add_endpoint`,
`track_and_add_endpoint`, `add_variable_collection`, `write_out`,
`variables`, `trainable_variables`, `non_trainable_variables`), the same
return values (`add_endpoint` returns the endpoint's `tf.function`), the
endpoints as attributes of the archive, and errors where Keras raises them,
of classes that are also the built-in exceptions Keras raises. Added: the
guarantees of `kerasexport.export()`. The SavedModel is written beside its
target, reloaded with `tf.saved_model.load`, checked, and only then renamed
into place; a failure leaves the target as it was.

Which endpoints are verified. An endpoint has a *reference model* when

- `fn` is a Keras model or layer, or its bound `call` or `__call__` method
  (called without `training`, i.e. in inference mode); or
- `add_endpoint(..., reference=model)` declares that `fn(*args)` computes
  `model(*args, training=False)` (for lambdas, R functions and
  `tf.function`s).

Each endpoint with a reference model is run, reloaded, on generated inputs
(two batch sizes) and compared with the reference model in inference mode.
Other endpoints (a training-mode pass, arbitrary functions) are written but
not compared; the report lists them with the reason.

Shape. The class is a facade: every call is checked and recorded in an
`ArchivePlan` (tracked resources, endpoints, collections, names) and handed
to one builder chosen at construction, as Keras's own `ExportArchive` picks
its backend's class once: `NativeBuilder` (TensorFlow, JAX: Keras's archive,
fed as calls come) or `CrossBuilder` (PyTorch, where Keras's archive needs
`torch_xla`: the archive is built by a TensorFlow worker from the tracked
models). `write_out()` stages, has the builder write, verifies the result
as `load()` opens it (`archive.verify`) and lands it.
"""

import os
import time

from kerasexport import atomic
from kerasexport import errors
from kerasexport import progress
from kerasexport import quiet
from kerasexport import scrub
from kerasexport import verify as verify_lib
from kerasexport.archive import endpoints as endpoints_lib
from kerasexport.archive.cross import CrossBuilder
from kerasexport.archive.native import NativeBuilder
from kerasexport.archive.plan import ArchivePlan
from kerasexport.archive.report import ArchiveReport
from kerasexport.archive.verify import verify_archive

# The builder of each backend Keras's archive (or ours) can write from.
BUILDERS = {"tensorflow": NativeBuilder, "jax": NativeBuilder, "torch": CrossBuilder}


class ExportArchive:
    """A SavedModel with several named endpoints, verified before it lands.

    Example:

    ```python
    archive = kerasexport.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", model.call, [keras.InputSpec(shape=(None, 3))])
    archive.add_endpoint(
        "call_training",
        lambda x: model.call(x, training=True),
        [keras.InputSpec(shape=(None, 3))],
    )
    report = archive.write_out("serving/model")
    print(report.summary())  # "serve" verified, "call_training" not
    ```
    """

    def __init__(self):
        import keras

        backend = keras.backend.backend()
        if backend not in BUILDERS:
            raise errors.RouteError(
                f"ExportArchive cannot write SavedModels on the {backend} "
                f"backend. Backends: {', '.join(BUILDERS)}."
            )
        self._plan = ArchivePlan(backend)
        self._builder = BUILDERS[backend](self._plan)

    # Keras's properties ------------------------------------------------------

    @property
    def endpoints(self):
        """Endpoint names, in the order they were added."""
        return list(self._plan.endpoints)

    @property
    def variables(self):
        """The variables of the tracked models and layers (Keras's property)."""
        return self._builder.variables("variables")

    @property
    def trainable_variables(self):
        """The trainable variables of the tracked models and layers."""
        return self._builder.variables("trainable_variables")

    @property
    def non_trainable_variables(self):
        """The non-trainable variables of the tracked models and layers."""
        return self._builder.variables("non_trainable_variables")

    @property
    def _tf_trackable(self):
        # Keras's archive keeps endpoints and collections here; Keras's own
        # tests read it. Not on PyTorch, whose archive is built elsewhere.
        return self._builder.tf_trackable

    def __getattr__(self, name):
        """An endpoint's function, or a variable collection, by name (as in Keras)."""
        declared = getattr(type(self), name, None)
        if isinstance(declared, property):
            # Its getter raised AttributeError, which brought Python here:
            # raise it again, so its own message shows rather than ours.
            return declared.fget(self)
        plan = self.__dict__.get("_plan")
        endpoints = plan.endpoints if plan is not None else {}
        collections = plan.collections if plan is not None else {}
        if name in endpoints:
            return endpoints[name].function
        if name in collections:
            return collections[name]
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r} "
            f"(endpoints: {list(endpoints)}; variable collections: {list(collections)})"
        )

    # Keras's methods -----------------------------------------------------------

    def track(self, resource):
        """Track a model or layer (its variables and lookup tables).

        Needed for lookup layers (`StringLookup`, `TextVectorization`) and to
        expose `variables` on the reloaded artifact. Models behind an
        endpoint are tracked automatically. Tracking twice is harmless.

        Args:
            resource: a built Keras layer or model, or a TensorFlow
                `Trackable` (e.g. a lookup table).

        Returns:
            This archive (Keras's returns `None`).

        Raises:
            ModelError: if `resource` is an unbuilt layer or not trackable
                (also a `ValueError`, as Keras raises).
        """
        import keras

        if isinstance(resource, keras.layers.Layer):
            if not resource.built:
                raise errors.ModelError(
                    f"The {type(resource).__name__} {resource.name!r} has not "
                    "been built, so it has no variables to track: it must be "
                    "built before export. Call it on data once or build it "
                    "(`model.build(shape)`) first."
                )
        elif not endpoints_lib.is_trackable(resource):
            raise errors.ModelError(
                "Invalid resource type: track() takes a Keras model or layer, "
                "or a TensorFlow trackable resource; received an object of "
                f"type {type(resource).__module__}.{type(resource).__name__}."
            )
        if not self._plan.is_tracked(resource):
            self._builder.track(resource)
            self._plan.tracked.append(resource)
        return self

    def add_endpoint(self, name, fn, input_signature=None, *, reference=None, **kwargs):
        """Add a named endpoint; returns its function, as Keras's does.

        Args:
            name: `str`. A Python identifier: the reloaded artifact exposes
                the endpoint as an attribute of that name.
            fn: a callable: a Keras model or layer, its `call` method, a
                function calling it, or a `tf.function` (TensorFlow backend).
            input_signature: the shapes and dtypes of `fn`'s positional
                arguments: a list with one entry per argument (an entry may
                be a list or dict for a model taking a list or dict of
                inputs), a single spec for one argument, or a dict for one
                dict argument. Leaves are shapes, `keras.InputSpec`,
                `tf.TensorSpec`, `KerasTensor` or arrays. May be `None` when
                `fn` is a built model or layer (inferred from it) or a
                `tf.function` called at least once. Defaults to `None`.
            reference: a Keras model that `fn(*args)` reproduces in inference
                mode; the endpoint is then verified against it. Inferred
                when `fn` is a model or its `call`/`__call__`. Defaults to
                `None`.
            **kwargs: options for Keras's exporter: `is_static` and
                `jax2tf_kwargs` on the JAX backend.

        Returns:
            The endpoint's `tf.function` (TensorFlow, JAX), as Keras's
            `add_endpoint()` returns it; on PyTorch, `fn`. The archive also
            has it as the attribute `name`.

        Raises:
            EndpointError: for a repeated, reserved or malformed name, a
                `fn` that is not callable or cannot be traced (also of the
                tracing error's own class), or, on PyTorch, a `fn` not built
                from a Keras model or layer.
            SignatureError: for a malformed signature, or none when one is
                needed.
            OptionError: for options that do not apply to this backend.
            ModelError: for a `reference` that is not a built Keras model.

        Example:

        ```python
        archive.add_endpoint(
            "serve", model.call, [keras.InputSpec(shape=(None, 3), dtype="float32")]
        )
        ```
        """
        self._plan.check_name(name, "endpoint")
        self._plan.check_options(kwargs)
        endpoint = endpoints_lib.describe(name, fn, input_signature, reference, kwargs,
                                          self._builder.check_owner)
        if endpoint.owner is not None:
            self.track(endpoint.owner)
        endpoint.function = self._builder.add_endpoint(endpoint)
        self._plan.endpoints[name] = endpoint
        return endpoint.function

    def track_and_add_endpoint(self, name, resource, input_signature=None, **kwargs):
        """Track `resource` and add it as endpoint `name` (Keras's shortcut).

        Args:
            name: `str`, the endpoint's name.
            resource: a built Keras model or layer.
            input_signature: as for `add_endpoint`; `None` infers it from
                `resource`. Defaults to `None`.
            **kwargs: as for `add_endpoint`.

        Returns:
            The endpoint's function, as `add_endpoint` returns it.
        """
        self.track(resource)
        return self.add_endpoint(name, resource, input_signature, **kwargs)

    def add_variable_collection(self, name, variables):
        """Record variables to expose as attribute `name` after reloading.

        Args:
            name: `str`. A Python identifier, unused by endpoints.
            variables: a list, tuple or set of `keras.Variable` (or
                `tf.Variable`) objects, e.g. `model.weights`. On PyTorch,
                variables of tracked models and layers.

        Returns:
            This archive.

        Raises:
            EndpointError: for a repeated, reserved or malformed name.
            ArgumentError: when `variables` is not a collection of variables
                (also a `ValueError`, as Keras raises).
        """
        import keras

        self._plan.check_name(name, "variable collection")
        if not isinstance(variables, (list, tuple, set)):
            raise errors.ArgumentError(
                f"`variables` of collection {name!r} must be a list, tuple or "
                f"set of variables (e.g. `model.weights`), received an object "
                f"of type {type(variables).__name__}."
            )
        variables = list(variables)
        wrong = sorted({
            type(v).__name__ for v in variables
            if not (isinstance(v, keras.Variable) or endpoints_lib.is_tf_variable(v))
        })
        if wrong:
            raise errors.ArgumentError(
                f"`variables` of collection {name!r} must hold only Keras or "
                f"TensorFlow variables; it also holds: {', '.join(wrong)}."
            )
        self._plan.collection_sources[name] = variables
        self._plan.collections[name] = self._builder.add_variable_collection(name, variables)
        return self

    def write_out(self, filepath, options=None, verbose=None, overwrite=False,
                  verify=True, rtol=verify_lib.DEFAULT_RTOL):
        """Write the SavedModel beside `filepath`, reload, verify, move in.

        The first endpoint also answers as `serving_default` (TF-Serving's
        default signature) unless an endpoint has that name.

        Args:
            filepath: `str` or path-like: the SavedModel directory to create.
            options: a `tf.saved_model.SaveOptions`, or `None` (not on
                PyTorch). Defaults to `None`.
            verbose: `bool` or `None`. Let Keras print the endpoints. Defaults
                to `None` (quiet).
            overwrite: `bool`. Replace an existing artifact (the old one stays
                until the new one is verified). Defaults to `False`.
            verify: `bool`. Compare endpoints that have a reference model.
                Defaults to `True`.
            rtol: `float`. Largest accepted relative error. Defaults to
                `1e-4`.

        Returns:
            An `ArchiveReport`.

        Raises:
            EndpointError: when no endpoint was added.
            PathError: when `filepath` cannot be written.
            RouteError: on PyTorch, when the worker cannot build it.
            VerificationError: when an endpoint does not reproduce its
                reference model, or is missing from the reloaded artifact.
        """
        started = time.perf_counter()
        plan = self._plan
        if not plan.endpoints:
            raise errors.EndpointError(
                "No endpoints have been set yet, so the archive has no "
                "endpoint to serve. Add one with add_endpoint() before write_out()."
            )
        target = os.path.abspath(os.fspath(filepath))
        atomic.check_target(target, overwrite, True)
        self._builder.check_save_options(options)
        count = f"{len(plan.endpoints)} endpoint{'s' if len(plan.endpoints) > 1 else ''}"
        where = ("by the native route" if self._builder.route == "native" else
                 "by the cross-backend route (tensorflow backend, in a worker process)")
        with quiet.quiet(verbose), scrub.source_paths_hidden(plan.backend), atomic.staged(target) as stage:
            progress.stage("export", f"Writing the archive ({count}) {where} ({plan.backend} backend).")
            self._builder.write(stage.path, options, verbose)
            progress.stage("verify", "Verifying: opening the archive as load() does and comparing its endpoints.")
            verified, unverified = verify_archive(plan, stage.path, verify, rtol)
            stage.commit(announce=bool(verbose))
        report = ArchiveReport(
            path=target, backend=plan.backend, endpoints=tuple(plan.endpoints),
            serving_default=plan.serving_default(),
            variable_collections=tuple(plan.collections),
            verified=verified, unverified=unverified, rtol=rtol,
            seconds=time.perf_counter() - started, route=self._builder.route,
        )
        progress.stage("done", report.summary())
        return report
