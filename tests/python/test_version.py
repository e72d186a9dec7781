"""One version, everywhere it is read: DESCRIPTION (the R package), Python, the installed metadata, the command line."""

import importlib.metadata
import os
import re

import kerasexport
from cli_run import ONCE, run

pytestmark = ONCE
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def description_version():
    with open(os.path.join(ROOT, "DESCRIPTION"), encoding="utf-8") as f:
        return re.search(r"^Version:\s*(\S+)", f.read(), re.MULTILINE).group(1)


def test_python_and_r_carry_the_same_version(tmp_path):
    assert kerasexport.__version__ == description_version()
    assert importlib.metadata.version("kerasexport") == kerasexport.__version__
    result = run("--version", cwd=tmp_path)
    assert result.stdout.strip() == f"kerasexport, version {kerasexport.__version__}"
