"""KServe v2 / Triton over gRPC: ``inference.GRPCInferenceService``.

The methods of kserve's ``grpc_predict_v2.proto`` (ServerLive,
ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer) and
Triton's extensions in its ``grpc_service.proto`` (ModelConfig,
ModelStatistics, RepositoryIndex, RepositoryModelLoad,
RepositoryModelUnload), with the messages tritonclient ships
(``tritonclient.grpc.service_pb2``, ``model_config_pb2``). Each method
reads its message, does what the HTTP route of the same name does (same
repository, runner and documents), and answers; the other methods of the
service (streaming, shared memory, tracing, logging) answer UNIMPLEMENTED.
"""

import grpc

from kerasexport.codec import kserve as kserve_codec
from kerasexport.codec import kserve_proto
from kerasexport.serving import kserve, triton
from kerasexport.serving.batching import in_thread
from kerasexport.serving.errors import NotFound
from kerasexport.serving.grpc.calls import labelled
from kerasexport.serving.repository import AVAILABLE, version_number

SERVICE = "inference.GRPCInferenceService"
# Messages this large are decoded in a worker thread, not on the event loop.
_THREAD_DECODE_BYTES = 256 * 1024


def handler(repository, calls, server_version):
    """The generic handler of the service, for `grpc.Server.add_generic_rpc_handlers`."""
    from google.protobuf import json_format
    from tritonclient.grpc import model_config_pb2 as config_pb
    from tritonclient.grpc import service_pb2 as pb

    async def server_live(request, labels):
        return pb.ServerLiveResponse(live=True)

    async def server_ready(request, labels):
        return pb.ServerReadyResponse(ready=repository.ready)

    async def model_ready(request, labels):
        version = version_number(request.version)
        try:
            served = repository.get(request.name, version)
        except NotFound:
            return pb.ModelReadyResponse(ready=False)
        labelled(labels, request.name, served.number)
        return pb.ModelReadyResponse(ready=True)

    async def server_metadata(request, labels):
        return pb.ServerMetadataResponse(**kserve.server_metadata(server_version))

    async def model_metadata(request, labels):
        served = repository.get(request.name, version_number(request.version))
        labelled(labels, request.name, served.number)
        available = [v.number for v in repository.models().get(request.name, []) if v.state == AVAILABLE]
        document = kserve.model_metadata(request.name, served, available)
        response = pb.ModelMetadataResponse(name=document["name"], versions=document["versions"],
                                            platform=document["platform"])
        for field in ("inputs", "outputs"):
            for tensor in document[field]:
                getattr(response, field).add(**tensor)
        return response

    async def model_infer(request, labels):
        version = version_number(request.model_version)
        large = sum(len(r) for r in request.raw_input_contents) > _THREAD_DECODE_BYTES
        decoded = (await in_thread(kserve_proto.decode_infer, request) if large
                   else kserve_proto.decode_infer(request))
        with repository.use(request.model_name, version) as served:
            labelled(labels, request.model_name, served.number)
            endpoint = served.artifact.endpoint()
            arrays = kserve_codec.inputs(endpoint, decoded)
            outputs = await served.runner.run(endpoint, arrays)
        return kserve_proto.encode_infer(pb.ModelInferResponse(), request.model_name, served.number,
                                         endpoint, outputs, decoded)

    async def model_config(request, labels):
        served = repository.get(request.name, version_number(request.version))
        labelled(labels, request.name, served.number)
        config = json_format.ParseDict(triton.model_config(request.name, served), config_pb.ModelConfig())
        return pb.ModelConfigResponse(config=config)

    async def model_statistics(request, labels):
        model = request.name or None
        version = version_number(request.version) if model else None
        if model:
            labelled(labels, model, version)
        return json_format.ParseDict(triton.statistics(repository, model, version),
                                     pb.ModelStatisticsResponse())

    async def repository_index(request, labels):
        response = pb.RepositoryIndexResponse()
        for entry in triton.repository_index(repository, ready_only=request.ready):
            response.models.add(**entry)
        return response

    async def repository_model_load(request, labels):
        await in_thread(repository.load, request.model_name)
        return pb.RepositoryModelLoadResponse()

    async def repository_model_unload(request, labels):
        await in_thread(repository.unload, request.model_name)
        return pb.RepositoryModelUnloadResponse()

    methods = {
        "ServerLive": (server_live, True), "ServerReady": (server_ready, True),
        "ModelReady": (model_ready, False), "ServerMetadata": (server_metadata, False),
        "ModelMetadata": (model_metadata, False), "ModelInfer": (model_infer, False),
        "ModelConfig": (model_config, False), "ModelStatistics": (model_statistics, False),
        "RepositoryIndex": (repository_index, False),
        "RepositoryModelLoad": (repository_model_load, False),
        "RepositoryModelUnload": (repository_model_unload, False),
    }
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    handlers = {}
    for method in service.methods:
        if method.name not in methods:
            continue  # grpcio answers UNIMPLEMENTED
        behaviour, open_ = methods[method.name]
        handlers[method.name] = calls.unary(
            f"{SERVICE}/{method.name}", behaviour, _message(pb, method.input_type),
            _message(pb, method.output_type), protocol="kserve", open=open_)
    return grpc.method_handlers_generic_handler(SERVICE, handlers)


def _message(module, descriptor):
    return getattr(module, descriptor.name)
