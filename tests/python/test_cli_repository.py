"""`kerasexport repository`: exit codes, what goes to standard error, SRC unchanged to the byte."""

import os

import pytest

import deploy_kit
from cli_run import ONCE, assert_refused, run

pytestmark = ONCE


@pytest.fixture(scope="module")
def work(deploy_source, tmp_path_factory):
    return tmp_path_factory.mktemp("cli-repository")


def test_writes_a_triton_tree_and_names_what_it_left_out(deploy_source, work):
    before = deploy_kit.tree_digest(deploy_source.root)
    result = run("repository", deploy_source.root, "tri", "--engine", "triton",
                 "--max-batch-size", "4", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Wrote a triton repository of 5 model(s)")
    left = [line for line in result.stderr.splitlines() if line.startswith("left out: ")]
    assert any("'mlp_lite'" in line and "LiteRT" in line for line in left)
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(work / "tri")) == ["mlp", "mlp_ov", "mlp_sm", "text", "two"]
    assert "max_batch_size: 4" in (work / "tri" / "mlp" / "config.pbtxt").read_text()
    assert deploy_kit.tree_digest(deploy_source.root) == before


def test_an_existing_out_is_refused_and_kept(deploy_source, work):
    (work / "taken").mkdir()
    (work / "taken" / "mine.txt").write_text("keep")
    before = deploy_kit.tree_digest(deploy_source.root)
    result = run("repository", deploy_source.root, "taken", "--engine", "triton", cwd=work)
    assert_refused(result, 1, "already exists", "--overwrite")
    assert os.listdir(work / "taken") == ["mine.txt"]
    assert deploy_kit.tree_digest(deploy_source.root) == before


def test_overwrite_replaces_out(deploy_source, work):
    (work / "again").mkdir()
    (work / "again" / "old.txt").write_text("old")
    result = run("repository", deploy_source.root, "again", "--engine", "kserve",
                 "--storage-uri", "pvc://models", "--overwrite", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "inferenceservices.yaml" in os.listdir(work / "again")
    assert not (work / "again" / "old.txt").exists()
    assert not [n for n in os.listdir(work) if n.startswith(".kerasexport")]


@pytest.mark.parametrize("args, words", [
    (["missing", "o1", "--engine", "triton"], ["'missing'", "does not exist"]),
    (["SRC", "o2", "--engine", "mxnet"], ["'mxnet'"]),
    (["SRC", "o3", "--engine", "kserve"], ["--storage-uri"]),
    (["SRC", "o4", "--engine", "tfserving", "--python-backend"], ["--python-backend"]),
    (["SRC", "o5", "--engine", "triton", "--max-batch-size", "-1"], ["--max-batch-size"]),
])
def test_usage_errors_exit_2_and_write_nothing(deploy_source, work, args, words):
    before = deploy_kit.tree_digest(deploy_source.root)
    args = [deploy_source.root if a == "SRC" else a for a in args]
    result = run("repository", *args, cwd=work)
    assert_refused(result, 2, *words)
    assert not (work / args[1]).exists()
    assert deploy_kit.tree_digest(deploy_source.root) == before


def test_nothing_an_engine_runs_exits_1(deploy_source, work):
    src = os.path.join(deploy_source.root, "mlp_lite", "1", "model.tflite")
    result = run("repository", src, "none", "--engine", "tfserving", cwd=work)
    assert result.returncode == 1
    assert result.stderr.startswith("error: Nothing to write") and "litert" in result.stderr
    assert not (work / "none").exists()


def test_out_inside_src_is_refused(deploy_source, work):
    before = deploy_kit.tree_digest(deploy_source.root)
    result = run("repository", deploy_source.root, os.path.join(deploy_source.root, "out"),
                 "--engine", "triton", cwd=work)
    assert_refused(result, 1, "outside the source")
    assert deploy_kit.tree_digest(deploy_source.root) == before
