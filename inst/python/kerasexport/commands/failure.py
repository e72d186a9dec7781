"""How a command fails: one ``error: ...`` line (and a ``hint: ...``) on standard error, an exit code.

Used by every subcommand and by `kerasexport.cli`'s exit-code mapping, so
that a failure reads the same wherever it is raised. Paths under the
working directory are shown relative to it, as the user typed them.
"""

import os
import sys

import click


def fail(message, hint=None, code=1):
    """Print ``error: message`` (and ``hint: ...``) on standard error; exit `code`."""
    echo_error(message, hint)
    sys.exit(code)


def echo_error(message, hint):
    click.echo(f"error: {_one_line(message)}", err=True)
    if hint:
        click.echo(f"hint: {_one_line(hint)}", err=True)


def first_line(exc):
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _one_line(text):
    """`text` on one line, with paths under the working directory made relative."""
    text = str(text)
    try:
        here = os.getcwd()
    except OSError:  # the working directory was removed
        here = os.sep
    if here != os.sep:
        text = text.replace(os.path.join(here, ""), "")
    return " ".join(text.split())
