import os

import pytest

from kerasexport import atomic
from kerasexport import errors


def _write_dir(path, text):
    os.mkdir(path)
    with open(os.path.join(path, "content.txt"), "w") as f:
        f.write(text)


def _read(path):
    with open(os.path.join(path, "content.txt")) as f:
        return f.read()


def _leftovers(parent):
    return [e for e in os.listdir(parent) if e.startswith(atomic.STAGING_PREFIX)]


def test_commit_puts_the_artifact_in_place(tmp_path):
    target = tmp_path / "model"
    with atomic.staged(target) as stage:
        _write_dir(stage.path, "new")
        stage.commit()
    assert _read(target) == "new"
    assert _leftovers(tmp_path) == []


def test_failure_before_commit_leaves_nothing(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with atomic.staged(target) as stage:
            _write_dir(stage.path, "half")
            raise RuntimeError("conversion failed")
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_failure_keeps_the_old_artifact(tmp_path):
    target = tmp_path / "model"
    _write_dir(target, "old")
    with pytest.raises(RuntimeError):
        with atomic.staged(target) as stage:
            _write_dir(stage.path, "new")
            raise RuntimeError("verification failed")
    assert _read(target) == "old"


def test_commit_replaces_the_old_artifact(tmp_path):
    target = tmp_path / "model"
    _write_dir(target, "old")
    with atomic.staged(target) as stage:
        _write_dir(stage.path, "new")
        stage.commit()
    assert _read(target) == "new"
    assert _leftovers(tmp_path) == []


def test_stale_staging_of_a_dead_process_is_cleaned(tmp_path):
    dead_pid = 2**22 + 12345  # above the kernel's pid_max default: never alive
    stale = tmp_path / f"{atomic.STAGING_PREFIX}model-pid{dead_pid}-abcd1234"
    stale.mkdir()
    atomic.clean_stale_staging(tmp_path / "model")
    assert not stale.exists()


def test_existing_target_needs_overwrite(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    with pytest.raises(errors.PathError, match="already exists"):
        atomic.check_target(target, overwrite=False, is_directory=True)
    atomic.check_target(target, overwrite=True, is_directory=True)


def test_missing_parent_is_a_path_error(tmp_path):
    with pytest.raises(errors.PathError, match="does not exist"):
        atomic.check_target(tmp_path / "no" / "model", overwrite=False, is_directory=True)


def test_file_where_a_directory_is_needed(tmp_path):
    target = tmp_path / "model"
    target.write_text("x")
    with pytest.raises(errors.PathError, match="is a file"):
        atomic.check_target(target, overwrite=True, is_directory=True)
