"""Request counts and latencies through Metrics.observe_request, read back by
prometheus_client's own text parser (label children are looked up once per
label set, so repeated and interleaved label sets must still count apart)."""

from prometheus_client.parser import text_string_to_metric_families

from kerasexport.serving.metrics import Metrics


class _NoModels:
    def models(self):
        return {}


def _samples(metrics):
    out = {}
    for family in text_string_to_metric_families(metrics.text().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_repeated_and_interleaved_label_sets_count_apart():
    metrics = Metrics(_NoModels())
    for _ in range(3):
        metrics.observe_request("mlp", "1", "kserve", 200, 0.002)
    metrics.observe_request("mlp", "2", "kserve", 200, 0.2)
    metrics.observe_request("mlp", "1", "kserve", 400, 0.0001)
    metrics.observe_request("", "", "grpc", 404, 0.003)
    metrics.observe_request("mlp", "1", "kserve", 200, 0.002)
    samples = _samples(metrics)

    def requests(model, version, protocol, code):
        labels = (("code", code), ("model", model), ("protocol", protocol), ("version", version))
        return samples[("kerasexport_requests_total", labels)]

    assert requests("mlp", "1", "kserve", "200") == 4
    assert requests("mlp", "2", "kserve", "200") == 1
    assert requests("mlp", "1", "kserve", "400") == 1
    assert requests("", "", "grpc", "404") == 1
    assert samples[("kerasexport_request_duration_seconds_count", (("protocol", "kserve"),))] == 6
    assert samples[("kerasexport_request_duration_seconds_count", (("protocol", "grpc"),))] == 1
    assert abs(samples[("kerasexport_request_duration_seconds_sum", (("protocol", "kserve"),))] - 0.2081) < 1e-9
    # 0.2 s falls in the 0.25 bucket, not below it.
    assert samples[("kerasexport_request_duration_seconds_bucket", (("le", "0.1"), ("protocol", "kserve")))] == 5
    assert samples[("kerasexport_request_duration_seconds_bucket", (("le", "0.25"), ("protocol", "kserve")))] == 6
