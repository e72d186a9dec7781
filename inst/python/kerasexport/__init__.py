"""kerasexport: verified SavedModel and ONNX artifacts from Keras 3 models."""

import os as _os

# TensorFlow's C++ logs are noise for our users; keep them unless asked.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasexport import errors  # noqa: E402
from kerasexport.api import export  # noqa: E402
from kerasexport.archive import ArchiveReport  # noqa: E402
from kerasexport.archive import ExportArchive  # noqa: E402
from kerasexport.artifact import Artifact, load  # noqa: E402
from kerasexport.report import ExportReport  # noqa: E402
from kerasexport.signature import spec  # noqa: E402

__version__ = "0.1.0"
__all__ = ["export", "load", "spec", "serve", "Server", "Artifact", "ExportArchive", "ArchiveReport",
           "ExportReport", "errors"]


def __getattr__(name):
    # The server's packages (starlette, uvicorn...) load on first use only.
    if name in ("serve", "Server"):
        from kerasexport import serving

        return getattr(serving, name)
    raise AttributeError(f"module 'kerasexport' has no attribute {name!r}")
