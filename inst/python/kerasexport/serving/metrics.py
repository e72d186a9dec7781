"""Prometheus metrics of one server, in a registry of its own.

`GET /metrics` exposes, in Prometheus's text format:

- ``kerasexport_requests_total{model, version, protocol, code}``: requests
  answered. `model` and `version` are empty for requests that named no
  served model (health checks, unknown names: these never add label values).
- ``kerasexport_request_duration_seconds{protocol}``: latency histogram.
- ``kerasexport_batch_size{model, version}``: rows per runtime call.
- ``kerasexport_models_loaded``: models with at least one version available,
  and ``kerasexport_model_versions_loaded{model}``: their available versions.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily

from kerasexport.serving.repository import AVAILABLE

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's metrics (see the module's doc).

    Args:
        repository: the `Repository`, read at each scrape for the gauges.
    """

    def __init__(self, repository):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kerasexport_requests", "Requests answered, by model, version, protocol and status code.",
            ("model", "version", "protocol", "code"), registry=self.registry)
        self.latency = Histogram(
            "kerasexport_request_duration_seconds", "Time from request to response, by protocol.",
            ("protocol",), buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.batch = Histogram(
            "kerasexport_batch_size", "Rows per runtime call, by model and version.",
            ("model", "version"), buckets=_BATCH_BUCKETS, registry=self.registry)
        self.registry.register(_Loaded(repository))
        # Each request's children, looked up once per label set: prometheus_client's
        # labels() checks and joins its arguments on every call (~20 µs a request).
        self._children = {}

    def observe_request(self, model, version, protocol, code, seconds):
        """Count one answered request and its latency."""
        key = (model, version, protocol, code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(model, version, protocol, str(code)),
                                              self.latency.labels(protocol))
        children[0].inc()
        children[1].observe(seconds)

    def batch_observer(self, model, version):
        """A `callable(rows)` recording the batch sizes of one version."""
        child = self.batch.labels(model, str(version))
        return child.observe

    def text(self):
        """The current metrics in Prometheus's text format (bytes)."""
        return generate_latest(self.registry)


class _Loaded:
    """Gauges read from the repository at scrape time, so they are never stale."""

    def __init__(self, repository):
        self._repository = repository

    def describe(self):
        return []

    def collect(self):
        models = GaugeMetricFamily("kerasexport_models_loaded",
                                   "Models with at least one version available.")
        versions = GaugeMetricFamily("kerasexport_model_versions_loaded",
                                     "Available versions per model.", labels=("model",))
        loaded = 0
        for name, model_versions in self._repository.models().items():
            count = sum(v.state == AVAILABLE for v in model_versions)
            versions.add_metric((name,), count)
            loaded += count > 0
        models.add_metric((), loaded)
        yield models
        yield versions
