"""The `kerasexport` console script: a thin shell over the public API.

Each subcommand parses its arguments, calls the public API, and prints its
result on standard output. Failures are mapped to exit codes in one place
(`Group.invoke`): 1 when the work fails (a `KerasexportError`), 2 for usage
errors (click's own), always as one ``error: ...`` line (plus a hint) on
standard error; a traceback only with ``--debug``.

Subcommands live beside what they drive and are registered in `_COMMANDS`,
imported only when named, so ``kerasexport --help`` stays fast.
"""

import importlib
import sys

import click

from kerasexport import __version__

# name -> (module, attribute, one-line help shown by `kerasexport --help`).
_COMMANDS = {
    "serve": ("kerasexport.serving.command", "serve",
              "Serve an artifact or a model repository over HTTP (TF-Serving REST, KServe v2)."),
}


class Group(click.Group):
    """A click group with lazily imported subcommands and our exit codes."""

    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        if name not in _COMMANDS:
            return None
        module, attribute, _ = _COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx):
        from kerasexport import errors

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except errors.KerasexportError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            fail(str(exc))
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130)
        except Exception as exc:  # a bug of ours or a library's: still one line
            if ctx.obj and ctx.obj.get("debug"):
                raise
            fail(f"{type(exc).__name__}: {_first_line(exc)}",
                 hint="This is unexpected; run again with --debug for the traceback.")


def fail(message, hint=None, code=1):
    """Print ``error: message`` (and ``hint: ...``) on standard error; exit `code`."""
    click.echo(f"error: {_one_line(message)}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def _first_line(exc):
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _one_line(text):
    return " ".join(str(text).split())


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="kerasexport")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
@click.pass_context
def main(ctx, debug):
    """Export Keras models to verified artifacts, inspect, run and serve them."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


if __name__ == "__main__":
    main()
