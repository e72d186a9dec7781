"""The `kerasexport` console script: a thin shell over the public API.

Each subcommand parses its arguments, calls the public API, and prints its
result on standard output. Failures are mapped to exit codes in one place
(`Group.invoke`, writing through `commands.failure`): 1 when the work
fails (a `KerasexportError`, whose ``hint`` attribute, if a command set
one, is shown as the hint), 2 for usage errors (click's own), always as one
``error: ...`` line (plus a hint) on standard error; a traceback only with
``--debug``. Messages name paths as the user gave them: the working
directory is left out. This module only wires: no subcommand imports it.

Subcommands live beside what they drive and are registered in `_COMMANDS`,
imported only when named, so ``kerasexport --help`` stays fast.
"""

import importlib

import click

from kerasexport.commands import failure
from kerasexport.version import __version__

# name -> (module, attribute, one-line help shown by `kerasexport --help`).
_COMMANDS = {
    "export": ("kerasexport.commands.export", "export", "Export a .keras model to a verified artifact."),
    "inspect": ("kerasexport.commands.inspect", "inspect", "Describe an artifact: format, size, endpoints."),
    "doctor": ("kerasexport.commands.doctor", "doctor", "Show what this machine can export, and what is missing."),
    "predict": ("kerasexport.commands.predict", "predict", "Run an artifact on inputs from a .npy, .npz or .json file."),
    "repository": ("kerasexport.commands.repository", "repository",
                   "Write a model repository that Triton, TF-Serving or KServe runs as it is."),
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

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _HELP_FOR_NO_ARGUMENTS:
            raise
        except click.UsageError as exc:  # the group's own options
            raise _OneLineUsageError(exc) from None

    def invoke(self, ctx):
        from kerasexport import errors

        try:
            return super().invoke(ctx)
        except _HELP_FOR_NO_ARGUMENTS:
            raise
        except click.UsageError as exc:  # a subcommand's name, options, arguments
            raise _OneLineUsageError(exc) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except errors.KerasexportError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            failure.fail(str(exc), hint=getattr(exc, "hint", None))
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130)
        except Exception as exc:  # a bug of ours or a library's: still one line
            if ctx.obj and ctx.obj.get("debug"):
                raise
            failure.fail(f"{type(exc).__name__}: {failure.first_line(exc)}",
                 hint="This is unexpected; run again with --debug for the traceback.")


# click >= 8.2 shows the help of a command run without arguments as a usage error.
_HELP_FOR_NO_ARGUMENTS = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _OneLineUsageError(click.UsageError):
    """A click usage error shown as our one ``error:`` line (exit 2)."""

    def __init__(self, original):
        super().__init__(original.format_message(), original.ctx)

    def show(self, file=None):
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx else ""
        failure.echo_error(f"{self.message.rstrip('.')}{where}.", None)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="kerasexport")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
@click.pass_context
def main(ctx, debug):
    """Export Keras models to verified artifacts, inspect, run and serve them.

    Results go to standard output, errors to standard error as one
    "error: ..." line; the exit code is 0 on success, 1 when the work fails
    and 2 for a usage error. `kerasexport COMMAND --help` describes each
    command.

    \b
    Examples:
      kerasexport doctor
      kerasexport export model.keras model.onnx --backend jax
      kerasexport inspect model.onnx --json
      kerasexport predict model.onnx --input request.json
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


if __name__ == "__main__":  # also how a command restarts itself (`commands.backend`)
    main(prog_name="kerasexport")
