"""The ceiling of a server on grpcio's threaded server, for bench/peers.py (not a peer).

``python grpc_ceiling.py MODEL.onnx X.npy HTTP_PORT GRPC_PORT``: grpcio's
threaded server with as many worker threads as `kerasexport serve` gives it,
imported as it imports grpcio, answering every
``inference.GRPCInferenceService/ModelInfer`` in the worker thread with one
serialized answer computed once (onnxruntime's output for the bench's one
request): no parsing, no model, no hand-off to an event loop, no Python of
ours per call. What it reaches is what any server built on grpcio could
reach on that core. A bare HTTP responder on HTTP_PORT (on an event loop
thread) answers 200 to anything, for the driver's readiness check.
"""

import asyncio
import sys
import threading


def main():
    from kerasexport.serving.grpc import Workers  # grpcio imported as kerasexport serve imports it
    from kerasexport.serving.server import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_DELAY_MS

    import grpc
    import numpy as np
    import onnxruntime
    import uvloop
    from tritonclient.grpc import service_pb2

    onnx_path, x_path, http_port, grpc_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
    x = np.load(x_path)
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    answer = service_pb2.ModelInferResponse(model_name="ceiling", model_version="1")
    output = answer.outputs.add()
    output.name, output.datatype = session.get_outputs()[0].name, "FP32"
    output.shape.extend(y.shape)
    answer.raw_output_contents.append(np.ascontiguousarray(y, dtype="<f4").tobytes())
    wire = answer.SerializeToString()

    def infer(request, context):
        return wire

    def same(data):
        return data

    handler = grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {
        "ModelInfer": grpc.unary_unary_rpc_method_handler(infer, request_deserializer=same,
                                                          response_serializer=same)})

    async def health(reader, writer):
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def answer_health():
        http = await asyncio.start_server(health, "127.0.0.1", http_port)
        async with http:
            await http.serve_forever()

    threading.Thread(target=uvloop.run, args=(answer_health(),), daemon=True).start()
    workers = Workers()  # as many threads as kerasexport serve's defaults give it
    workers.fit(DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_DELAY_MS)
    server = grpc.server(workers, options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers([handler])
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
