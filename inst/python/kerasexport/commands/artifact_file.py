"""Open an exported artifact named on the command line."""

import os

from kerasexport import quiet
from kerasexport.commands.failure import fail


def open_artifact(path):
    """`kerasexport.load(path)`, refusing first (exit 1) a path with nothing there.

    Raises:
        ArtifactError: what `kerasexport.load` raises for a path that is not
            a loadable artifact.
    """
    if not os.path.lexists(path):
        fail(f"No such file or directory: {path!r}; ARTIFACT is an exported SavedModel directory or a file (ONNX, OpenVINO .xml, LiteRT, .pt2).")
    if path.endswith(".keras"):
        fail(f"{path!r} is a saved Keras model, not an exported artifact; export it "
             f"first (kerasexport export {path} model.onnx).")
    from kerasexport.api import load

    with quiet.quiet(verbose=None):
        return load(path)
