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

Backends. On TensorFlow and JAX the archive holds a Keras archive of that
backend and hands it each call as it comes. On PyTorch, where Keras's
archive needs `torch_xla`, the archive records tracked models and layers and
endpoints built from them (the model or layer itself, its `call` or
`__call__`, with ``training=`` true or false), and `write_out()` builds the
SavedModel in a TensorFlow worker process (the cross-backend route, see
`archive_cross`), then verifies it here against the PyTorch model.
"""

import dataclasses
import functools
import inspect
import keyword
import os
import time

from kerasexport import atomic
from kerasexport import errors
from kerasexport import formats
from kerasexport import progress
from kerasexport import quiet
from kerasexport import scrub
from kerasexport import signature as signature_lib
from kerasexport import verify as verify_lib

DEFAULT_ENDPOINT_NAME = "serve"
SERVING_DEFAULT = "serving_default"
BACKENDS = ("tensorflow", "jax", "torch")
# Options Keras's `add_endpoint()` takes, per backend.
ENDPOINT_OPTIONS = {"tensorflow": (), "jax": ("is_static", "jax2tf_kwargs"), "torch": ()}
# Attributes a reloaded SavedModel already has: names that would shadow them.
RESERVED_NAMES = frozenset({
    "variables", "trainable_variables", "non_trainable_variables",
    "signatures", "tensorflow_version", "tensorflow_git_version",
    "graph_debug_info",
})
NOT_A_MODEL_CALL = (
    "fn is not a Keras model nor its call method; pass reference=model to "
    "compare it with a model in inference mode"
)
TRAINING_MODE = "a training-mode pass (training=True) need not reproduce the model in inference mode"
_TORCH_ENDPOINTS = (
    "On the PyTorch backend an endpoint is a tracked Keras model or layer: "
    "the model or layer itself, its `call` or `__call__` method, or "
    "functools.partial(model.call, training=True) (R: add_endpoint(..., "
    "training = TRUE)); the archive is built from them by the TensorFlow "
    "backend in a worker process."
)


@dataclasses.dataclass(frozen=True)
class ArchiveReport:
    """The outcome of `ExportArchive.write_out()`.

    Attributes:
        path: where the SavedModel now stands.
        backend: the Keras backend it was written from.
        endpoints: endpoint names, in the order they were added.
        serving_default: the endpoint TF-Serving calls by default.
        variable_collections: names of the variable collections.
        verified: `dict` from endpoint name to its worst relative error.
        unverified: `dict` from endpoint name to why it was not compared.
        rtol: the tolerance verified endpoints were held to.
        seconds: wall time of the whole write.
        route: `"native"` (Keras's archive in this process) or
            `"cross-backend"` (built in a TensorFlow worker, PyTorch).
    """

    path: str
    backend: str
    endpoints: tuple
    serving_default: str
    variable_collections: tuple
    verified: dict
    unverified: dict
    rtol: float
    seconds: float
    route: str = "native"

    def summary(self):
        """One line: endpoints, which were verified, and time."""
        if self.verified:
            worst = max(self.verified.values())
            checked = (
                f"verified {', '.join(self.verified)} (max relative error "
                f"{worst:.2g}, tolerance {self.rtol:g})"
            )
        else:
            checked = "no endpoint verified"
        if self.unverified:
            checked += f"; not verified: {', '.join(self.unverified)}"
        route = " by the cross-backend route" if self.route != "native" else ""
        return (
            f"Wrote a SavedModel with {len(self.endpoints)} endpoint(s) "
            f"({', '.join(self.endpoints)}; serving_default: "
            f"{self.serving_default}) from the {self.backend} backend{route}; "
            f"{checked}; {self.seconds:.1f}s."
        )

    __str__ = summary


@dataclasses.dataclass
class Endpoint:
    """What `add_endpoint()` was given, and what verification needs.

    Attributes:
        name: the endpoint's name.
        fn: the callable given (what Keras's archive receives).
        specs: Keras's positional form of the signature, or `None` for a
            traced `tf.function`.
        options: Keras's options (`is_static`, `jax2tf_kwargs`).
        reference: the Keras model/layer it reproduces, or `None`.
        verify_specs: the signature verification generates inputs from.
        reason: why there is no reference (`""` when there is one).
        function: what `add_endpoint()` returned (Keras's `tf.function`).
        owner: the Keras layer `fn` belongs to, or `None`.
        method: `"__call__"` or `"call"` (which method of `owner`), or `None`.
        training: `True`/`False` when `fn` fixes `training=`, else `None`.
    """

    name: str
    fn: object
    specs: object
    options: dict
    reference: object
    verify_specs: object
    reason: str
    function: object = None
    owner: object = None
    method: object = None
    training: object = None


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
        if backend not in BACKENDS:
            raise errors.RouteError(
                f"ExportArchive cannot write SavedModels on the {backend} "
                f"backend. Backends: {', '.join(BACKENDS)}."
            )
        self._backend = backend
        # Keras's own archive, fed as calls come (TensorFlow, JAX); on
        # PyTorch the record below is all there is until write_out().
        self._keras = None if backend == "torch" else keras.export.ExportArchive()
        self._tracked = []
        self._endpoints = {}
        self._collections = {}  # as Keras's archive holds them (tf.Variables on JAX)
        self._collection_sources = {}  # as given
        self._rebuild_before_writing = False

    # Keras's properties ------------------------------------------------------

    @property
    def endpoints(self):
        """Endpoint names, in the order they were added."""
        return list(self._endpoints)

    @property
    def variables(self):
        """The variables of the tracked models and layers (Keras's property)."""
        if self._keras is not None:
            return self._keras.variables
        return [v for r in self._tracked if hasattr(r, "variables") for v in r.variables]

    @property
    def trainable_variables(self):
        """The trainable variables of the tracked models and layers."""
        if self._keras is not None:
            return self._keras.trainable_variables
        return [v for r in self._tracked if hasattr(r, "variables") for v in r.trainable_variables]

    @property
    def non_trainable_variables(self):
        """The non-trainable variables of the tracked models and layers."""
        if self._keras is not None:
            return self._keras.non_trainable_variables
        return [v for r in self._tracked if hasattr(r, "variables") for v in r.non_trainable_variables]

    @property
    def _tf_trackable(self):
        # Keras's archive keeps endpoints and collections here; Keras's own
        # tests read it.
        if self._keras is None:
            raise AttributeError("_tf_trackable: the PyTorch backend builds it in the worker process")
        return self._keras._tf_trackable

    def __getattr__(self, name):
        """An endpoint's function, or a variable collection, by name (as in Keras)."""
        endpoints = self.__dict__.get("_endpoints", {})
        if name in endpoints:
            return endpoints[name].function
        collections = self.__dict__.get("_collections", {})
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
        elif not _is_trackable(resource):
            raise errors.ModelError(
                "Invalid resource type: track() takes a Keras model or layer, "
                "or a TensorFlow trackable resource; received an object of "
                f"type {type(resource).__module__}.{type(resource).__name__}."
            )
        elif self._keras is None:
            raise errors.ModelError(
                "On the PyTorch backend the archive tracks Keras models and "
                "layers only (it is built by the TensorFlow backend in a "
                "worker process, where a TensorFlow resource of this process "
                f"cannot go); received a {type(resource).__name__}."
            )
        if not any(resource is seen for seen in self._tracked):
            self._tracked.append(resource)
            if self._keras is not None:
                self._keras.track(resource)
                # On JAX an endpoint binds the variables tracked when it was
                # added; one tracked later breaks it when it is saved.
                self._rebuild_before_writing |= self._backend == "jax" and bool(self._endpoints)
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
        self._check_name(name, "endpoint")
        if not callable(fn):
            raise errors.EndpointError(
                f"`fn` of endpoint {name!r} must be callable (a model, its "
                f"call method, a function), received an object of type "
                f"{type(fn).__name__}."
            )
        self._check_options(kwargs)
        owner, method, training, fn = _model_behind(fn)
        if self._keras is None and owner is None:
            raise errors.EndpointError(
                f"Endpoint {name!r}: {_describe_fn(fn)} is not supported on the "
                f"PyTorch backend. {_TORCH_ENDPOINTS}"
            )
        model = owner if training is not True else None
        if reference is not None:
            _check_reference(reference)
            model = reference
        specs = _endpoint_signature(name, fn, input_signature, owner if method == "object" else None, model)
        verify_specs = specs if specs is not None else _traced_specs(fn)
        if owner is not None:
            self.track(owner)
        endpoint = Endpoint(
            name=name, fn=fn, specs=specs, options=dict(kwargs),
            reference=model, verify_specs=verify_specs,
            reason="" if model is not None else (TRAINING_MODE if training else NOT_A_MODEL_CALL),
            owner=owner, method=method, training=training,
        )
        endpoint.function = self._add_to_keras(endpoint) if self._keras is not None else fn
        self._endpoints[name] = endpoint
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

        self._check_name(name, "variable collection")
        if not isinstance(variables, (list, tuple, set)):
            raise errors.ArgumentError(
                f"`variables` of collection {name!r} must be a list, tuple or "
                f"set of variables (e.g. `model.weights`), received an object "
                f"of type {type(variables).__name__}."
            )
        variables = list(variables)
        wrong = sorted({
            type(v).__name__ for v in variables
            if not (isinstance(v, keras.Variable) or _is_tf_variable(v))
        })
        if wrong:
            raise errors.ArgumentError(
                f"`variables` of collection {name!r} must hold only Keras or "
                f"TensorFlow variables; it also holds: {', '.join(wrong)}."
            )
        self._collection_sources[name] = variables
        if self._keras is not None:
            self._keras.add_variable_collection(name, variables)
            variables = getattr(self._keras._tf_trackable, name)
        else:
            from kerasexport import archive_cross

            archive_cross.locate_variables(name, variables, self._tracked)
        self._collections[name] = variables
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
        if not self._endpoints:
            raise errors.EndpointError(
                "No endpoints have been set yet, so the archive has no "
                "endpoint to serve. Add one with add_endpoint() before write_out()."
            )
        target = os.path.abspath(os.fspath(filepath))
        atomic.check_target(target, overwrite, True)
        if self._keras is None and options is not None:
            raise errors.OptionError(
                "`options` (tf.saved_model.SaveOptions) cannot reach the "
                "worker process that writes the archive on the PyTorch backend; "
                "leave it unset."
            )
        with quiet.quiet(verbose), scrub.source_paths_hidden(self._backend):
            if self._rebuild_before_writing:
                self._rebuild()
            with atomic.staged(target) as stage:
                count = f"{len(self._endpoints)} endpoint{'s' if len(self._endpoints) > 1 else ''}"
                if self._keras is not None:
                    progress.stage("export", f"Writing the archive ({count}) by the native route ({self._backend} backend).")
                    self._keras.write_out(stage.path, options=options, verbose=bool(verbose))
                else:
                    from kerasexport import archive_cross

                    progress.stage("export", f"Writing the archive ({count}) by the cross-backend route "
                                             "(tensorflow backend, in a worker process).")
                    archive_cross.write(self, stage.path, verbose)
                progress.stage("verify", "Verifying: reloading the archive and comparing its endpoints.")
                verified, unverified = self._check_artifact(stage.path, verify, rtol)
                stage.commit(announce=bool(verbose))

        report = ArchiveReport(
            path=target, backend=self._backend, endpoints=tuple(self._endpoints),
            serving_default=self._serving_default(),
            variable_collections=tuple(self._collections),
            verified=verified, unverified=unverified, rtol=rtol,
            seconds=time.perf_counter() - started,
            route="native" if self._keras is not None else "cross-backend",
        )
        progress.stage("done", report.summary())
        return report

    def write_unchecked(self, path, verbose=None):
        """Write Keras's archive to `path` as it is: no staging, no check.

        For the worker process of the PyTorch backend's archives, which
        writes into the staging directory its parent verifies.
        """
        self._keras.write_out(path, verbose=bool(verbose))

    # Building and checking ------------------------------------------------

    def _add_to_keras(self, endpoint):
        """Add `endpoint` to Keras's archive and trace it; Keras's function."""
        fn = endpoint.fn
        if endpoint.reference is not None and endpoint.specs is not None and endpoint.training is None:
            fn = _in_inference_mode(fn)
        with quiet.quiet(None), scrub.source_paths_hidden(self._backend):
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

    def _rebuild(self):
        """A fresh Keras archive: everything tracked first, then the endpoints.

        Functions returned by earlier `add_endpoint()` calls keep working
        for their callers; the archive's attributes name the new ones.
        """
        import keras

        self._keras = keras.export.ExportArchive()
        for resource in self._tracked:
            self._keras.track(resource)
        for endpoint in self._endpoints.values():
            endpoint.function = self._add_to_keras(endpoint)
        for name, variables in self._collection_sources.items():
            self._keras.add_variable_collection(name, variables)
            self._collections[name] = getattr(self._keras._tf_trackable, name)
        self._rebuild_before_writing = False

    def _check_artifact(self, path, verify, rtol):
        """Reload the SavedModel; compare endpoints with a reference model."""
        import tensorflow as tf

        from kerasexport.formats import saved_model

        loaded = tf.saved_model.load(path)
        signatures = set(loaded.signatures.keys())
        expected = set(self._endpoints) | {SERVING_DEFAULT}
        missing = sorted(
            name for name in expected
            if name not in signatures or (name != SERVING_DEFAULT and not hasattr(loaded, name))
        )
        if missing:
            raise errors.VerificationError(
                f"The reloaded SavedModel lacks endpoint(s) {missing}; it has "
                f"signatures {sorted(signatures)}. Nothing was written."
            )
        verified, unverified = {}, {}
        for endpoint in self._endpoints.values():
            if not verify:
                unverified[endpoint.name] = "verify=False"
                continue
            if endpoint.reference is None:
                unverified[endpoint.name] = endpoint.reason
                continue

            def run(args, name=endpoint.name):
                return saved_model.run(loaded, args, endpoint=name)

            try:
                verified[endpoint.name] = verify_lib.check(
                    endpoint.reference, run, endpoint.verify_specs, rtol
                )
            except errors.VerificationError as exc:
                raise errors.VerificationError(f"Endpoint {endpoint.name!r}: {exc}") from exc
        return verified, unverified

    def _serving_default(self):
        if SERVING_DEFAULT in self._endpoints:
            return SERVING_DEFAULT
        return next(iter(self._endpoints))

    # Checks -----------------------------------------------------------------

    def _check_name(self, name, what):
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise errors.EndpointError(
                f"The {what} name must be a Python identifier (letters, digits "
                "and underscores, not starting with a digit or underscore), so "
                f"the reloaded artifact can expose it as an attribute; "
                f"received {name!r}."
            )
        if name in RESERVED_NAMES:
            raise errors.EndpointError(
                f"The {what} name {name!r} is reserved: a reloaded SavedModel "
                f"already has that attribute. Reserved: {sorted(RESERVED_NAMES)}."
            )
        if name in self._endpoints:
            raise errors.EndpointError(
                f"Endpoint {name!r} is already defined (the name is already "
                f"taken). Endpoints so far: {list(self._endpoints)}. Choose another name."
            )
        if name in self._collections:
            raise errors.EndpointError(
                f"{name!r} already names a variable collection. Collections so "
                f"far: {list(self._collections)}. Choose another name."
            )

    def _check_options(self, options):
        allowed = ENDPOINT_OPTIONS[self._backend]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise errors.OptionError(
                f"Option(s) {', '.join(unknown)} do not apply to add_endpoint() "
                f"on the {self._backend} backend. Options that apply: "
                f"{', '.join(allowed) or 'none'}."
            )


def _forget_endpoint(keras_archive, name):
    """Undo Keras's record of an endpoint that failed to trace."""
    if name in getattr(keras_archive, "_endpoint_names", []):
        keras_archive._endpoint_names.remove(name)
    getattr(keras_archive, "_endpoint_signatures", {}).pop(name, None)
    if hasattr(keras_archive._tf_trackable, name):
        delattr(keras_archive._tf_trackable, name)


def _model_behind(fn):
    """(owner, method, training, fn): the Keras layer behind `fn`, and the callable to export.

    `method` is `"object"` when `fn` is the layer itself (exported through
    its `__call__`, as Keras's `track_and_add_endpoint()` does), `"call"` or
    `"__call__"` for its bound methods, and `training` the value a
    ``functools.partial(..., training=...)`` of one of them fixes. For any
    other callable: ``(None, None, None, fn)``.
    """
    import keras

    training = None
    inner = fn
    if isinstance(fn, functools.partial) and not fn.args and set(fn.keywords) == {"training"}:
        if isinstance(fn.keywords["training"], bool):
            inner, training = fn.func, fn.keywords["training"]
    if isinstance(inner, keras.layers.Layer):
        if training is None:
            return inner, "object", None, inner.__call__
        return inner, "__call__", training, fn
    owner = getattr(inner, "__self__", None)
    method = getattr(inner, "__name__", None)
    if isinstance(owner, keras.layers.Layer) and method in ("call", "__call__"):
        return owner, method, training, fn
    return None, None, None, fn


def _describe_fn(fn):
    if _is_tf_function(fn):
        return "a tf.function"
    from kerasexport import custom_code

    if custom_code.is_r_function(fn):
        return "an R function"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"the function {name}"


def _in_inference_mode(fn):
    """`fn`, whose layer calls are traced with ``training=False``.

    An endpoint with a reference model computes that model in inference
    mode. Traced without `training`, augmentation layers (`RandomFlip`, ...)
    fall back to their training default; and TensorFlow traces each endpoint
    again when it saves it, so the mode must come with the function.
    """

    def inference(*args, **kwargs):
        with formats.inference_mode():
            return fn(*args, **kwargs)

    try:
        inference.__signature__ = inspect.signature(fn)  # the JAX exporter reads it
    except (TypeError, ValueError):
        pass
    return inference


def _check_reference(reference):
    import keras

    if not isinstance(reference, keras.layers.Layer):
        raise errors.ModelError(
            "`reference` must be the Keras model the endpoint reproduces, "
            f"received an object of type {type(reference).__name__}."
        )
    if not reference.built:
        raise errors.ModelError(
            f"The reference model {reference.name!r} has not been built; call "
            "it on data once or build it first."
        )


def _endpoint_signature(name, fn, input_signature, inferable, model):
    """Keras's positional form of `input_signature`, or None (tf.function).

    Args:
        name: the endpoint's name, for messages.
        fn: the callable to export.
        input_signature: what the user gave, or `None`.
        inferable: the Keras layer `fn` is (the signature may be inferred
            from it), or `None`.
        model: the layer whose inputs the signature must fit, or `None`.
    """
    if input_signature is None:
        if _is_tf_function(fn):
            if not fn._list_all_concrete_functions():
                raise errors.SignatureError(
                    f"Endpoint {name!r}: the tf.function has never been "
                    "called, so its input shapes are unknown: you must either "
                    "provide a function that has been called at least once "
                    "(call it on example inputs), or pass `input_signature`."
                )
            return None
        if inferable is not None:
            return signature_lib.normalize(inferable, None)
        raise errors.SignatureError(
            f"Endpoint {name!r} needs an `input_signature`: its function is "
            "not a traced tf.function, so the shapes and dtypes of its inputs "
            "are unknown, and you must provide an `input_signature`, e.g. "
            "[keras.InputSpec(shape=(None, 3), dtype='float32')] (R: "
            "input_spec(c(NA, 3))). To infer it from a model, pass the model "
            "itself as `fn`."
        )
    if model is not None:
        return signature_lib.normalize(model, input_signature)
    # No model to check against: one spec per positional argument.
    specs = signature_lib.convert(input_signature, None)
    specs = specs if isinstance(specs, list) else [specs]
    _check_arity(name, fn, specs)
    return specs


def _check_arity(name, fn, specs):
    """Refuse a signature with more or fewer entries than `fn` takes."""
    import inspect

    if _is_tf_function(fn):
        return
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return  # no introspectable signature: tracing will tell
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) <= len(specs) <= len(positional):
        return
    names = ", ".join(p.name for p in positional) or "none"
    hint = (
        " For a model taking a list of inputs, wrap their specs in one list: "
        "[[spec_1, spec_2]] (R: list(list(input_spec(...), input_spec(...))))."
        if len(specs) > len(positional) else
        " Give one spec per positional argument of `fn`."
    )
    raise errors.SignatureError(
        f"Endpoint {name!r}: `fn` takes {len(positional)} positional "
        f"argument(s) ({names}), but `input_signature` describes {len(specs)} "
        f"(one spec per argument).{hint}"
    )


def _traced_specs(fn):
    """InputSpecs of the first trace of a tf.function (for verification)."""
    import keras
    import tensorflow as tf

    args, _ = fn._list_all_concrete_functions()[0].structured_input_signature
    return tf.nest.map_structure(
        lambda s: keras.InputSpec(shape=tuple(s.shape.as_list()), dtype=s.dtype.name),
        list(args),
    )


def _is_tf_function(fn):
    if not type(fn).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(fn, tf.types.experimental.GenericFunction)


def _is_tf_variable(value):
    if not type(value).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(value, tf.Variable)


def _is_trackable(value):
    if not type(value).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(value, tf.__internal__.tracking.Trackable)
