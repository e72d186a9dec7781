"""The stages of an export, told through `logging` (logger ``"kerasexport"``).

Nothing is shown unless a handler listens: the command line shows the stages
on a terminal, R turns them into progress steps, a notebook can call
`logging.basicConfig(level=logging.INFO)`. Each record carries the stage's
name as ``record.stage``:

- ``"load"``: a model file is being read (command line);
- ``"export"``: a route starts writing (its name, backend and reason);
- ``"verify"``: the artifact is being reloaded and compared;
- ``"done"``: the artifact is in place (the report's one line).

Records are emitted with the console released from `quiet()`, so handlers
reach the user even while third-party output is being captured.
`listen(callback)` is the simplest handler: it hands each stage to a function
(R's progress display uses it).
"""

import logging
import threading

from kerasexport import quiet

LOGGER = logging.getLogger("kerasexport")
STAGES = ("load", "export", "verify", "done")


def stage(name, message):
    """Report that stage `name` starts (or, for ``"done"``, ended)."""
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    with quiet.released():
        LOGGER.info(message, extra={"stage": name})


class _Listener(logging.Handler):
    """Hands each stage to a callback until `close()`; see `listen`."""

    def __init__(self, callback):
        super().__init__(level=logging.INFO)
        self._callback = callback
        self._previous_level = LOGGER.level
        LOGGER.addHandler(self)
        if not LOGGER.isEnabledFor(logging.INFO):
            LOGGER.setLevel(logging.INFO)

    def emit(self, record):
        stage_name = getattr(record, "stage", None)
        # The callback may be R's, which only the main thread can call.
        if stage_name is None or threading.current_thread() is not threading.main_thread():
            return
        try:
            self._callback(stage_name, record.getMessage())
        except Exception:  # A display that fails must not fail the export.
            pass

    def close(self):
        if self in LOGGER.handlers:
            LOGGER.removeHandler(self)
            LOGGER.setLevel(self._previous_level)
        super().close()


def listen(callback):
    """Call `callback(stage, message)` for each stage until `.close()`.

    Args:
        callback: a function of two strings, the stage's name (see `STAGES`)
            and its message. Its exceptions are ignored: a progress display
            never fails an export.

    Returns:
        A `logging.Handler` on the ``"kerasexport"`` logger; its `close()`
        removes it and restores the logger's level.

    Example:

    ```python
    listener = progress.listen(lambda stage, message: print(stage, message))
    try:
        kerasexport.export(model, "serving/model")
    finally:
        listener.close()
    ```
    """
    return _Listener(callback)
