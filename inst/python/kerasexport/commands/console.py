"""Show an export's stages on standard error while it runs.

The stages come from the ``"kerasexport"`` logger (`kerasexport.progress`);
they are shown when standard error is a terminal (a person is watching) or
with ``--verbose``, and not in pipes and logs otherwise. The ``"done"``
stage is left out: the report is printed on standard output.
"""

import contextlib
import logging
import sys

from kerasexport import progress


class _StageHandler(logging.Handler):
    def __init__(self, stream):
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record):
        stage = getattr(record, "stage", None)
        if stage == "done":
            return
        try:
            self.stream.write(f"[{stage or 'kerasexport'}] {record.getMessage()}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal must not fail the export


def wanted(verbose):
    """Whether to show the stages: with `verbose`, or on a terminal."""
    try:
        return bool(verbose) or sys.stderr.isatty()
    except (AttributeError, ValueError):
        return bool(verbose)


@contextlib.contextmanager
def stages_shown(show):
    """While the block runs, write stage records to standard error if `show`."""
    if not show:
        yield
        return
    handler = _StageHandler(sys.stderr)
    level = progress.LOGGER.level
    progress.LOGGER.addHandler(handler)
    progress.LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        progress.LOGGER.removeHandler(handler)
        progress.LOGGER.setLevel(level)
