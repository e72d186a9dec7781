"""Write an artifact beside its target, then rename it into place.

A failed or killed export must never leave a half-written artifact at the
target, nor clobber a good one. Work happens in a hidden sibling directory
(same file system, so the final rename is atomic); the target is only touched
by ``os.replace``/``os.rename`` once the new artifact has been verified.
"""

import contextlib
import os
import shutil
import uuid

from kerasexport import errors

STAGING_PREFIX = ".kerasexport-staging-"
_PID_SEPARATOR = "-pid"


def _staging_name(target_name):
    return f"{STAGING_PREFIX}{target_name}{_PID_SEPARATOR}{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(target):
    """Remove staging leftovers of killed exports to `target`."""
    parent, name = os.path.split(os.path.abspath(target))
    prefix = f"{STAGING_PREFIX}{name}{_PID_SEPARATOR}"
    for entry in os.listdir(parent):
        if not entry.startswith(prefix):
            continue
        pid_text = entry[len(prefix):].split("-", 1)[0]
        if pid_text.isdigit() and _pid_alive(int(pid_text)) and int(pid_text) != os.getpid():
            continue
        _remove(os.path.join(parent, entry))


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def check_target(target, overwrite, is_directory):
    """Fail early, before any work, when `target` cannot be written."""
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise errors.PathError(
            f"The parent directory of the target does not exist: {parent!r}. "
            "Create it first (in R: `dir.create(path, recursive = TRUE)`)."
        )
    if not os.access(parent, os.W_OK):
        raise errors.PathError(
            f"The directory {parent!r} is not writable. Choose a writable location."
        )
    if os.path.lexists(target):
        if not overwrite:
            raise errors.PathError(
                f"The target {target!r} already exists. "
                "Pass `overwrite = True` (R: `overwrite = TRUE`) to replace it, "
                "or choose another path."
            )
        if is_directory and not os.path.isdir(target):
            raise errors.PathError(
                f"The target {target!r} is a file, but this format writes a "
                "directory. Remove the file or choose another path."
            )
        if not is_directory and os.path.isdir(target):
            raise errors.PathError(
                f"The target {target!r} is a directory, but this format writes "
                "a single file. Remove the directory or choose another path."
            )


@contextlib.contextmanager
def staged(target):
    """Yield a staging path beside `target`; on success the caller commits.

    Usage::

        with staged(target) as stage:
            write(stage.path)
            verify(stage.path)
            stage.commit()

    Whatever happens before ``commit()``, the staging area is removed and the
    target is left as it was.
    """
    target = os.path.abspath(target)
    parent, name = os.path.split(target)
    clean_stale_staging(target)
    staging_dir = os.path.join(parent, _staging_name(name))
    os.mkdir(staging_dir)
    stage = _Stage(target, os.path.join(staging_dir, name))
    try:
        yield stage
    finally:
        _remove(staging_dir)


class _Stage:
    def __init__(self, target, path):
        self.target = target
        self.path = path

    def commit(self):
        """Move the staged artifact to the target, replacing an old one."""
        if not os.path.lexists(self.target):
            os.rename(self.path, self.target)
            return
        # Swap: the old artifact moves aside (still intact) and goes only
        # once the new one stands in its place.
        old = os.path.join(os.path.dirname(self.path), "old")
        os.rename(self.target, old)
        try:
            os.rename(self.path, self.target)
        except BaseException:
            os.rename(old, self.target)
            raise
