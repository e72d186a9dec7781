"""Write an artifact beside its target, then rename it into place.

A failed or killed export must never leave a half-written artifact at the
target, nor clobber a good one. Work happens in a hidden sibling directory
(same file system, so renames are atomic); the target is only touched once the
new artifact has been verified:

- a new target is created by one `rename`;
- an existing file is replaced by one `os.replace`;
- an existing directory is swapped with the new one by one
  `renameat2(RENAME_EXCHANGE)` (Linux), so at every instant the target is
  either the old artifact or the new one. Where that call is missing, the old
  directory is moved aside first, and a kill between the two renames is
  repaired by the next export to the same place (`clean_stale_staging`).

Some formats write a pair of files (OpenVINO: ``NAME.xml`` and its weights
``NAME.bin``, the target's *companion*). Both are staged together and land
companion first, main file last, with the old main file moved aside before
any of them: at every instant the target path holds the old pair's main
file, nothing, or the new pair's, never a main file beside the other pair's
companion. A kill in that short window leaves the companion without its main
file until the next export to the same place, which puts the old pair back.
"""

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import uuid

from kerasexport import errors

STAGING_PREFIX = ".kerasexport-staging-"
_PID_MARK = "-pid"
_OLD = "old"
_OLD_COMPANION = "old-companion-"
_JOURNAL = ".kerasexport-companions"  # names of the companions this export lands
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

# Test hook: `KERASEXPORT_TEST_KILL_AT=<checkpoint>` makes the process kill
# itself there, so tests can prove a kill at that moment loses nothing.
_KILL_AT_VARIABLE = "KERASEXPORT_TEST_KILL_AT"


def checkpoint(name):
    """Die here with SIGKILL if the kill test asks for it (no-op otherwise)."""
    if os.environ.get(_KILL_AT_VARIABLE) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _staging_name(target_name):
    return f"{STAGING_PREFIX}{target_name}{_PID_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _owner_pid(entry, prefix):
    pid_text = entry[len(prefix):].split("-", 1)[0]
    return int(pid_text) if pid_text.isdigit() else None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(target):
    """Remove what killed exports to `target` left behind.

    A staging directory whose process is gone is removed; if it still holds
    the old artifact moved aside by an interrupted swap and the target is
    missing, the old artifact is put back first.
    """
    parent, name = os.path.split(os.path.abspath(target))
    prefix = f"{STAGING_PREFIX}{name}{_PID_MARK}"
    for entry in sorted(os.listdir(parent)):
        if not entry.startswith(prefix):
            continue
        pid = _owner_pid(entry, prefix)
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            continue  # Another export to the same place is running.
        staging_dir = os.path.join(parent, entry)
        old = os.path.join(staging_dir, _OLD)
        if not os.path.lexists(target):
            _roll_back_companions(staging_dir, parent)
        if os.path.lexists(old) and not os.path.lexists(target):
            os.rename(old, target)
        _remove(staging_dir)


def _roll_back_companions(staging_dir, parent):
    """Undo the companions a killed commit landed before its main file.

    Each companion gets its old file back when one was moved aside, and is
    removed when the interrupted export brought it (it is then no longer in
    the staging directory).
    """
    journal = os.path.join(staging_dir, _JOURNAL)
    if not os.path.isfile(journal):
        return
    with open(journal) as f:
        names = [line.strip() for line in f if line.strip()]
    for name in names:
        final = os.path.join(parent, name)
        old = os.path.join(staging_dir, _OLD_COMPANION + name)
        if os.path.lexists(old):
            os.replace(old, final)
        elif not os.path.lexists(os.path.join(staging_dir, name)) and os.path.lexists(final):
            os.remove(final)


def _nearest_existing(directory):
    """`directory`, or its closest ancestor that exists."""
    while not os.path.lexists(directory):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory


def _make_parents(directory):
    """Create `directory` and its missing ancestors; return those made, deepest first."""
    missing = []
    while not os.path.lexists(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    made = []
    try:
        for path in reversed(missing):
            os.mkdir(path)
            made.insert(0, path)
    except OSError:
        _remove_made(made)
        raise
    return made


def _remove_made(made):
    """Remove the directories `_make_parents` made, if still empty."""
    for path in made:
        try:
            os.rmdir(path)
        except OSError:
            return  # Not empty (someone else wrote there) or gone: leave the rest.


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def check_target(target, overwrite, is_directory, companions=()):
    """Fail early, before any work, when `target` cannot be written.

    Missing parent directories are fine: `staged()` creates them (as Keras
    does) and removes them again if the export fails.

    Args:
        target: path of the artifact.
        overwrite: `bool`, whether an existing artifact may be replaced.
        is_directory: `bool`, whether the format writes a directory.
        companions: paths of the files written beside `target` (OpenVINO's
            `.bin`). Defaults to none.

    Raises:
        PathError: an ancestor is a file, the nearest existing directory is
            not writable, or the target exists (without `overwrite`) or is of
            the wrong kind.
    """
    target = os.path.abspath(target)
    existing = _nearest_existing(os.path.dirname(target))
    if not os.path.isdir(existing):
        raise errors.PathError(
            f"Cannot create the directory of the target: {existing!r} is a "
            "file, not a directory. Choose another path."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise errors.PathError(
            f"The directory {existing!r} is not writable. Choose a writable location."
        )
    for companion in companions:
        _check_companion(target, companion, overwrite)
    if not os.path.lexists(target):
        return
    kind_now = "directory" if os.path.isdir(target) else "file"
    kind_needed = "directory" if is_directory else "file"
    if kind_now != kind_needed:
        raise errors.PathError(
            f"The target {target!r} is a {kind_now}, but this format writes a "
            f"{kind_needed}. Remove it or choose another path."
        )
    if not overwrite:
        raise errors.PathError(
            f"The target {target!r} already exists. Pass `overwrite=True` "
            "to replace it, or choose another path.", fix="overwrite",
        )


def _check_companion(target, companion, overwrite):
    if not os.path.lexists(companion):
        return
    if os.path.isdir(companion):
        raise errors.PathError(
            f"This format writes {os.path.basename(companion)!r} beside "
            f"{os.path.basename(target)!r}, but {companion!r} is a directory. "
            "Remove it or choose another name."
        )
    if not overwrite and not os.path.lexists(target):
        raise errors.PathError(
            f"This format writes {os.path.basename(companion)!r} beside "
            f"{os.path.basename(target)!r}, and {companion!r} already exists. "
            "Pass `overwrite=True` to replace it, or choose another name.", fix="overwrite",
        )


@contextlib.contextmanager
def staged(target, companions=()):
    """Yield a staging area beside `target`; the caller commits on success.

    Usage::

        with staged(target) as stage:
            write(stage.path)
            verify(stage.path)
            stage.commit()

    Missing parent directories of `target` are created first; whatever
    happens before ``commit()``, the staging area and the directories made
    are removed, and the target is left as it was.

    Args:
        target: path of the artifact.
        companions: paths of files the format writes beside `target`, in the
            same directory (OpenVINO's `.bin`); they are staged beside
            `stage.path` under the same names and land with it.

    Raises:
        PathError: when the staging area cannot be created (read-only file
            system, no permission).
    """
    target = os.path.abspath(target)
    parent, name = os.path.split(target)
    try:
        made = _make_parents(parent)
    except OSError as exc:
        raise errors.PathError(
            f"Cannot create the directory {parent!r}: {exc.strerror}. Choose a writable location."
        ) from exc
    clean_stale_staging(target)
    staging_dir = os.path.join(parent, _staging_name(name))
    try:
        os.mkdir(staging_dir)
    except OSError as exc:
        _remove_made(made)
        raise errors.PathError(
            f"Cannot write in {parent!r}: {exc.strerror}. Choose a writable location."
        ) from exc
    stage = _Stage(target, os.path.join(staging_dir, name), os.path.join(staging_dir, _OLD), companions)
    try:
        yield stage
    finally:
        _remove(staging_dir)
        if not stage.committed:
            _remove_made(made)


class _Stage:
    def __init__(self, target, path, old, companions=()):
        self.target = target
        self.path = path  # Where the new artifact is written.
        self._old = old  # Where the old one goes once replaced.
        self.scratch = os.path.dirname(path)  # For temporary files of the export.
        self.committed = False
        self._companions = [os.path.basename(c) for c in companions]
        if self._companions:
            with open(os.path.join(self.scratch, _JOURNAL), "w") as f:
                f.write("".join(name + "\n" for name in self._companions))

    def commit(self, announce=False):
        """Move the staged artifact to the target, replacing an old one.

        Args:
            announce: `bool`. Say where the artifact now is: verbose
                exporters named the staging path they wrote to.
        """
        checkpoint("before_rename")
        if self._companions:
            self._commit_pair()
        elif not os.path.lexists(self.target):
            os.rename(self.path, self.target)
        elif not os.path.isdir(self.path):
            os.replace(self.path, self.target)
        elif not _exchange(self.path, self.target):
            os.rename(self.target, self._old)
            checkpoint("mid_swap")
            os.rename(self.path, self.target)
        self.committed = True
        checkpoint("after_rename")
        if announce:
            print(f"Verified artifact moved into place at '{self.target}'.", flush=True)

    def _commit_pair(self):
        """Land the companions, then the main file (see the module doc)."""
        parent = os.path.dirname(self.target)
        if os.path.lexists(self.target):
            os.rename(self.target, self._old)
        try:
            for name in self._companions:
                final = os.path.join(parent, name)
                if os.path.lexists(final):
                    os.rename(final, os.path.join(self.scratch, _OLD_COMPANION + name))
                os.rename(os.path.join(self.scratch, name), final)
                checkpoint("mid_pair")
            os.rename(self.path, self.target)
        except BaseException:
            _roll_back_companions(self.scratch, parent)
            if os.path.lexists(self._old):
                os.rename(self._old, self.target)
            raise


def _exchange(a, b):
    """Atomically swap two paths; False when the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)
