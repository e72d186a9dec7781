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


def test_missing_parents_are_created_on_commit(tmp_path):
    target = tmp_path / "path" / "to" / "model"
    atomic.check_target(target, overwrite=False, is_directory=True)
    with atomic.staged(target) as stage:
        _write_dir(stage.path, "new")
        stage.commit()
    assert _read(target) == "new"
    assert _leftovers(target.parent) == []


def test_a_failure_removes_the_parents_it_made_and_only_those(tmp_path):
    (tmp_path / "path").mkdir()
    target = tmp_path / "path" / "to" / "deep" / "model"
    with pytest.raises(RuntimeError):
        with atomic.staged(target) as stage:
            _write_dir(stage.path, "half")
            raise RuntimeError("verification failed")
    assert os.listdir(tmp_path) == ["path"]
    assert os.listdir(tmp_path / "path") == []


def test_a_parent_made_but_written_to_by_others_stays(tmp_path):
    target = tmp_path / "new" / "model"
    with pytest.raises(RuntimeError):
        with atomic.staged(target) as stage:
            (tmp_path / "new" / "theirs.txt").write_text("keep")
            raise RuntimeError("failed")
    assert os.listdir(tmp_path / "new") == ["theirs.txt"]


def test_a_parent_that_is_a_file_is_a_path_error(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(errors.PathError, match="is a file, not a directory"):
        atomic.check_target(tmp_path / "a_file" / "sub" / "model", overwrite=False, is_directory=True)


def test_file_where_a_directory_is_needed(tmp_path):
    target = tmp_path / "model"
    target.write_text("x")
    with pytest.raises(errors.PathError, match="is a file"):
        atomic.check_target(target, overwrite=True, is_directory=True)


# A main file and its companion (OpenVINO's .xml and .bin) ----


def _write_pair(stage, text):
    with open(stage.path, "w") as f:
        f.write(f"{text} xml")
    with open(os.path.join(stage.scratch, "model.bin"), "w") as f:
        f.write(f"{text} bin")


def _pair(parent):
    with open(parent / "model.xml") as f, open(parent / "model.bin") as g:
        return f.read(), g.read()


def _stage_pair(tmp_path, text):
    target = tmp_path / "model.xml"
    with atomic.staged(target, [str(tmp_path / "model.bin")]) as stage:
        _write_pair(stage, text)
        stage.commit()


def test_a_pair_lands_together(tmp_path):
    _stage_pair(tmp_path, "new")
    assert _pair(tmp_path) == ("new xml", "new bin")
    assert _leftovers(tmp_path) == []


def test_overwriting_a_pair_replaces_both_files(tmp_path):
    _stage_pair(tmp_path, "old")
    _stage_pair(tmp_path, "new")
    assert _pair(tmp_path) == ("new xml", "new bin")
    assert sorted(os.listdir(tmp_path)) == ["model.bin", "model.xml"]


def test_a_failed_export_keeps_the_old_pair(tmp_path):
    _stage_pair(tmp_path, "old")
    with pytest.raises(RuntimeError):
        with atomic.staged(tmp_path / "model.xml", [str(tmp_path / "model.bin")]) as stage:
            _write_pair(stage, "new")
            raise RuntimeError("verification failed")
    assert _pair(tmp_path) == ("old xml", "old bin")
    assert _leftovers(tmp_path) == []


def test_a_rename_failing_mid_pair_puts_the_old_pair_back(tmp_path, monkeypatch):
    _stage_pair(tmp_path, "old")
    real_rename = os.rename

    def rename(src, dst):
        if str(dst) == str(tmp_path / "model.xml") and "staging" in str(src) and "old" not in os.path.basename(str(src)):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError):
        _stage_pair(tmp_path, "new")
    monkeypatch.undo()
    assert _pair(tmp_path) == ("old xml", "old bin")
    assert _leftovers(tmp_path) == []


def test_a_companion_without_its_main_file_needs_overwrite(tmp_path):
    (tmp_path / "model.bin").write_text("someone's weights")
    with pytest.raises(errors.PathError, match="model.bin.*already exists"):
        atomic.check_target(str(tmp_path / "model.xml"), False, False, [str(tmp_path / "model.bin")])
    atomic.check_target(str(tmp_path / "model.xml"), True, False, [str(tmp_path / "model.bin")])


def test_a_companion_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "model.bin").mkdir()
    with pytest.raises(errors.PathError, match="is a directory"):
        atomic.check_target(str(tmp_path / "model.xml"), True, False, [str(tmp_path / "model.bin")])
