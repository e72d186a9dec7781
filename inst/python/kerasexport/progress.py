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
"""

import logging

from kerasexport import quiet

LOGGER = logging.getLogger("kerasexport")
STAGES = ("load", "export", "verify", "done")


def stage(name, message):
    """Report that stage `name` starts (or, for ``"done"``, ended)."""
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    with quiet.released():
        LOGGER.info(message, extra={"stage": name})
