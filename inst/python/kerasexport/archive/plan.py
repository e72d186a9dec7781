"""What an archive holds before it is written: tracked resources, endpoints, collections.

The `ExportArchive` facade records every call here, whatever the backend,
and checks names once, as Keras's archive does (a Python identifier, not
reserved, not taken). The builder (`native`, `cross`) turns the record
into a SavedModel; verification reads the endpoints' reference models.
"""

import keyword

from kerasexport import errors
from kerasexport.artifact import SERVING_DEFAULT
from kerasexport.formats import saved_model

# Attributes a reloaded SavedModel already has: names that would shadow them.
RESERVED_NAMES = frozenset({
    "variables", "trainable_variables", "non_trainable_variables",
    "signatures", "tensorflow_version", "tensorflow_git_version",
    "graph_debug_info",
})
# Options Keras's `add_endpoint()` takes, per backend: its SavedModel exporter's.
ENDPOINT_OPTIONS = saved_model.OPTIONS


class ArchivePlan:
    """The archive's record.

    Attributes:
        backend: the Keras backend.
        tracked: the tracked models, layers and resources, in order.
        endpoints: endpoint name -> `endpoints.Endpoint`, in order.
        collections: collection name -> the variables as the builder holds
            them (`tf.Variable`s on JAX).
        collection_sources: collection name -> the variables as given.
    """

    def __init__(self, backend):
        self.backend = backend
        self.tracked = []
        self.endpoints = {}
        self.collections = {}
        self.collection_sources = {}

    def is_tracked(self, resource):
        return any(resource is seen for seen in self.tracked)

    def serving_default(self):
        """The endpoint TF-Serving calls by default: `serving_default`, else the first."""
        if SERVING_DEFAULT in self.endpoints:
            return SERVING_DEFAULT
        return next(iter(self.endpoints))

    def check_name(self, name, what):
        """Refuse a name the reloaded artifact could not expose as an attribute.

        Raises:
            EndpointError: malformed, reserved, or already an endpoint or a
                collection.
        """
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
        if name in self.endpoints:
            raise errors.EndpointError(
                f"Endpoint {name!r} is already defined (the name is already "
                f"taken). Endpoints so far: {list(self.endpoints)}. Choose another name."
            )
        if name in self.collections:
            raise errors.EndpointError(
                f"{name!r} already names a variable collection. Collections so "
                f"far: {list(self.collections)}. Choose another name."
            )

    def check_options(self, options):
        """Refuse options Keras's `add_endpoint()` does not take on this backend.

        Raises:
            OptionError: naming them and the options that apply.
        """
        allowed = ENDPOINT_OPTIONS[self.backend]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise errors.OptionError(
                f"Option(s) {', '.join(unknown)} do not apply to add_endpoint() "
                f"on the {self.backend} backend. Options that apply: "
                f"{', '.join(allowed) or 'none'}."
            )
