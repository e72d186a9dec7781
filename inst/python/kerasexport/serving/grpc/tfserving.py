"""TensorFlow Serving over gRPC: ``PredictionService`` (Predict, GetModelMetadata) and ``ModelService`` (GetModelStatus).

Follows tensorflow/serving's ``apis/prediction_service.proto``,
``predict.proto``, ``get_model_metadata.proto`` and
``get_model_status.proto``, with the messages tensorflow-serving-api ships.
A ``model_spec`` names the model, optionally its version (``version``;
version labels are not kept here) and a ``signature_name`` (none, or
``serving_default`` on an artifact without that signature, is the default
endpoint, as over REST). Inputs and outputs are ``TensorProto``s
(`kerasexport.codec.tensorproto`); an ``output_filter`` picks outputs.
Classify, Regress and MultiInference (tf.Example APIs) answer UNIMPLEMENTED.
"""

import grpc

from kerasexport.artifact import check_inputs
from kerasexport.codec import tensorproto, tensors
from kerasexport.codec import tfserving as tfserving_codec
from kerasexport.errors import RequestError
from kerasexport.serving.errors import BadRequest, NotFound
from kerasexport.serving.grpc.calls import labelled
from kerasexport.serving.tfserving import PREDICT_METHOD

PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"
_SIGNATURE_DEF = "signature_def"


def handlers(repository, calls):
    """The generic handlers of both services; empty when tensorflow-serving-api is missing.

    Its generated modules import TensorFlow's protos (``tensorflow.core``),
    so TF-Serving's gRPC API needs TensorFlow installed; KServe's does not.
    """
    try:
        from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                             model_service_pb2, predict_pb2, prediction_service_pb2)
    except ImportError:
        return []

    def spec(model_spec):
        """(model, version or None) of a ModelSpec."""
        if model_spec.version_label:
            raise NotFound(f"Version label {model_spec.version_label[:40]!r} of model "
                           f"{model_spec.name!r} not found: this server keeps no version labels; "
                           "ask by version number.")
        if model_spec.HasField("version"):
            number = model_spec.version.value
            if number <= 0:
                raise BadRequest(f"Version {number} is not a version number; expected a positive "
                                 "whole number.")
            return model_spec.name, number
        return model_spec.name, None

    def endpoint_of(artifact, signature_name):
        try:
            return tfserving_codec.endpoint(artifact, signature_name or None)
        except RequestError as exc:  # an unknown signature: NOT_FOUND over gRPC
            raise NotFound(str(exc)) from None

    async def predict(request, labels):
        model, version = spec(request.model_spec)
        if not request.inputs:
            raise BadRequest("The request has no inputs; expected one TensorProto per input of "
                             "the signature.")
        given = {name: tensorproto.to_array(proto, name) for name, proto in request.inputs.items()}
        with repository.use(model, version) as served:
            labelled(labels, model, served.number)
            endpoint = endpoint_of(served.artifact, request.model_spec.signature_name)
            names = [t.name for t in endpoint.outputs]
            unknown = [n for n in request.output_filter if n not in names]
            if unknown:
                raise BadRequest(f"Unknown output(s) {unknown} in output_filter. Available: {names}.")
            arrays = check_inputs(endpoint, tensors.by_position_if_single(endpoint, given))
            outputs = await served.runner.run(endpoint, arrays)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = model
        response.model_spec.version.value = served.number
        response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
        wanted = set(request.output_filter) or set(names)
        for name, array in zip(names, outputs):
            if name in wanted:
                tensorproto.from_array(response.outputs[name], array)
        return response

    async def get_model_metadata(request, labels):
        model, version = spec(request.model_spec)
        fields = list(request.metadata_field) or [_SIGNATURE_DEF]
        unsupported = [f for f in fields if f != _SIGNATURE_DEF]
        if unsupported:
            raise BadRequest(f"Metadata field(s) {unsupported} not supported; expected "
                             f"[{_SIGNATURE_DEF!r}].")
        served = repository.get(model, version)
        labelled(labels, model, served.number)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for name, endpoint in served.artifact.endpoints.items():
            signature = signatures.signature_def[name]
            signature.method_name = PREDICT_METHOD
            for field, infos in (("inputs", endpoint.inputs), ("outputs", endpoint.outputs)):
                for info in infos:
                    entry = getattr(signature, field)[info.name]
                    entry.name = info.name
                    entry.dtype = tensorproto.dtype_number(entry, info.dtype)
                    tensorproto.set_shape(entry.tensor_shape, info.shape)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = model
        response.model_spec.version.value = served.number
        response.metadata[_SIGNATURE_DEF].Pack(signatures)
        return response

    async def get_model_status(request, labels):
        model, version = spec(request.model_spec)
        labelled(labels, model, version)
        response = get_model_status_pb2.GetModelStatusResponse()
        states = get_model_status_pb2.ModelVersionStatus.State
        for served in repository.status(model, version):
            entry = response.model_version_status.add()
            entry.version = served.number
            entry.state = states.Value({"AVAILABLE": "AVAILABLE", "UNLOADING": "UNLOADING"}.get(
                served.state, "END"))
            if served.error:
                entry.status.error_code = 2  # tensorflow.error.UNKNOWN, as REST reports it
                entry.status.error_message = served.error
        return response

    def service(module, name, methods, protocol="tfserving"):
        descriptor = module.DESCRIPTOR.services_by_name[name.rsplit(".", 1)[1]]
        found = {}
        for method in descriptor.methods:
            if method.name in methods:
                found[method.name] = calls.unary(
                    f"{name}/{method.name}", methods[method.name],
                    _message_class(method.input_type), _message_class(method.output_type),
                    protocol=protocol)
        return grpc.method_handlers_generic_handler(name, found)

    return [
        service(prediction_service_pb2, PREDICTION_SERVICE,
                {"Predict": predict, "GetModelMetadata": get_model_metadata}),
        service(model_service_pb2, MODEL_SERVICE, {"GetModelStatus": get_model_status}),
    ]


def _message_class(descriptor):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)
