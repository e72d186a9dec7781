"""The `kerasexport` group: its commands, help and usage errors."""

import subprocess

from cli_run import ONCE, SCRIPT, assert_refused, environment, run

pytestmark = ONCE


def test_help_lists_the_commands_and_each_has_examples(tmp_path):
    listing = run("--help", cwd=tmp_path)
    assert listing.returncode == 0
    for command in ("doctor", "export", "inspect", "predict"):
        assert f"  {command} " in listing.stdout
        # The help is the reference: each command's shows examples.
        help_text = subprocess.run([SCRIPT, command, "--help"], cwd=tmp_path, env=environment(),
                                   capture_output=True, text=True, timeout=60)
        assert help_text.returncode == 0 and "Examples:" in help_text.stdout, command


def test_an_unknown_command_is_a_one_line_usage_error(tmp_path):
    assert_refused(run("exprot", "model.keras", cwd=tmp_path), 2, "No such command 'exprot'",
                   "kerasexport --help")


def test_no_command_shows_the_help(tmp_path):
    result = run(cwd=tmp_path)
    assert result.returncode == 2  # click's convention for a bare group
    assert result.stderr.startswith("Usage: kerasexport") and "Commands:" in result.stderr
