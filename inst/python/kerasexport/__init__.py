"""kerasexport: Keras 3 models, from any backend, to verified artifacts in Keras's five formats.

SavedModel, ONNX, OpenVINO IR, LiteRT and PyTorch ExportedProgram (`.pt2`):
`export()` writes one, opens it as `load()` does and compares it with the
model before it lands; `load()` runs one without the model's code;
`ExportArchive` writes multi-endpoint SavedModels; `serve()` and `Server`
serve them over TF-Serving's REST API and KServe v2. See ARCHITECTURE.md.
"""

import os as _os

# TensorFlow's C++ logs are noise for our users; keep them unless asked.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasexport import errors  # noqa: E402
from kerasexport.api import export, load  # noqa: E402
from kerasexport.archive import ArchiveReport, ExportArchive  # noqa: E402
from kerasexport.artifact import Artifact  # noqa: E402
from kerasexport.deploy import RepositoryReport, write_repository  # noqa: E402
from kerasexport.report import ExportReport  # noqa: E402
from kerasexport.signature import spec  # noqa: E402
from kerasexport.version import __version__  # noqa: E402

__all__ = ["export", "load", "spec", "serve", "Server", "Artifact", "ExportArchive", "ArchiveReport",
           "ExportReport", "write_repository", "RepositoryReport", "errors", "__version__"]


def __getattr__(name):
    # The server's packages (starlette, uvicorn...) load on first use only.
    if name in ("serve", "Server"):
        from kerasexport import serving

        return getattr(serving, name)
    raise AttributeError(f"module 'kerasexport' has no attribute {name!r}")
