"""A saved Keras model (``model.save("model.keras")``), told apart from an exported artifact.

A ``.keras`` file is a zip archive holding ``config.json`` and the
weights. The command line takes one as its MODEL; `kerasexport.load()`
refuses one (it is a model to export, not an artifact to run). Read by
content, without importing Keras.
"""

import zipfile

SUFFIX = ".keras"
_CONFIG = "config.json"  # what Keras writes first; its weights may be absent
ZIP_MAGIC = b"PK\x03\x04"


def zip_members(path):
    """The member names of the zip archive at `path`, or `None` if it is not one."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != ZIP_MAGIC:
                return None
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


def recognizes(path):
    """Whether the file at `path` is a saved Keras model (a zip holding its config)."""
    members = zip_members(path)
    return members is not None and _CONFIG in members
