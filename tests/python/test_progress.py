"""Export stages reach `logging` (logger "kerasexport"), even while quiet."""

import logging

import kerasexport
from kerasexport import progress

from test_quiet import native_format, target


class _Console(logging.Handler):
    """A handler writing to the process's stderr, as a terminal handler does."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.stages = []

    def emit(self, record):
        self.stages.append(record.stage)
        self.stream.write(f"[{record.stage}] {record.getMessage()}\n")


def test_stages_are_logged_in_order_and_reach_the_console(tmp_path, small_model, capfd):
    import sys

    handler = _Console(sys.stderr)
    progress.LOGGER.addHandler(handler)
    progress.LOGGER.setLevel(logging.INFO)
    try:
        report = kerasexport.export(small_model, target(tmp_path), format=native_format())
    finally:
        progress.LOGGER.removeHandler(handler)
        progress.LOGGER.setLevel(logging.NOTSET)
    assert handler.stages == ["export", "verify", "done"]
    err = capfd.readouterr().err
    # Written while third-party output was captured, yet on the console.
    assert f"[export] Exporting {native_format()} by the native route" in err
    assert f"[done] {report.summary()}" in err


def test_no_handler_no_output(tmp_path, small_model, capfd):
    kerasexport.export(small_model, target(tmp_path), format=native_format())
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_listen_hands_stages_to_a_callback_until_closed(tmp_path, small_model):
    seen = []
    listener = progress.listen(lambda stage, message: seen.append((stage, message)))
    try:
        report = kerasexport.export(small_model, target(tmp_path), format=native_format())
    finally:
        listener.close()
    assert [stage for stage, _ in seen] == ["export", "verify", "done"]
    assert seen[-1][1] == report.summary()
    assert progress.LOGGER.handlers == [] and progress.LOGGER.level == logging.NOTSET
    seen.clear()
    kerasexport.export(small_model, str(tmp_path / "again"), format=native_format())
    assert seen == []


def test_a_failing_callback_does_not_fail_the_export(tmp_path, small_model, capfd):
    def broken(stage, message):
        raise RuntimeError("display broke")

    listener = progress.listen(broken)
    try:
        report = kerasexport.export(small_model, target(tmp_path), format=native_format())
    finally:
        listener.close()
    assert report.verified
    assert "display broke" not in capfd.readouterr().err


def test_an_archive_reports_its_stages_too(tmp_path, small_model):
    import keras

    seen = []
    listener = progress.listen(lambda stage, message: seen.append((stage, message)))
    try:
        archive = kerasexport.ExportArchive()
        archive.track(small_model)
        archive.add_endpoint("serve", small_model, [keras.InputSpec(shape=(None, 4), dtype="float32")])
        report = archive.write_out(str(tmp_path / "archive"))
    finally:
        listener.close()
    assert [stage for stage, _ in seen] == ["export", "verify", "done"]
    assert seen[0][1].startswith(f"Writing the archive (1 endpoint) by the {report.route} route")
    assert seen[-1][1] == report.summary()
