"""Tensors to and from the protocols' bodies, shared by every transport and the command line.

`tensors` turns JSON values into arrays and back (one dtype table,
`kerasexport.dtypes`); `tfserving` reads and writes TF-Serving's REST
predict bodies (row and columnar formats); `kserve` reads and writes KServe
v2 inference bodies (JSON and Triton's binary tensors). The server's
routes and ``kerasexport predict --input request.json`` both decode and
encode through here, so they accept, answer and refuse alike; a refusal
is an `errors.RequestError`.
"""
