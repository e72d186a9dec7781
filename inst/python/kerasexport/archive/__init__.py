"""`ExportArchive`: several named endpoints in one verified SavedModel.

`export_archive` is the public, Keras-compatible class, a thin facade over
`plan` (what was tracked, the endpoints, the collections, name checks) and
one builder chosen at construction: `native` (Keras's archive, TensorFlow
and JAX) or `cross` (a TensorFlow worker builds it, PyTorch). `endpoints`
says what each endpoint is; `verify` opens the written archive as
`kerasexport.load()` does and compares its endpoints; `report` is what
`write_out()` returns.
"""

from kerasexport.archive.export_archive import ExportArchive
from kerasexport.archive.report import ArchiveReport

__all__ = ["ExportArchive", "ArchiveReport"]
