"""``kerasexport doctor``: what this machine can export, and what is missing."""

import json

import click

from kerasexport.commands import capabilities


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the survey as JSON (schema below).")
def doctor(as_json):
    """Show which formats each installed backend can write here, and how.

    Lists the Keras backends, the routes each installed backend can take to
    each format (in the order an export tries them), the runtimes and
    converters those routes need with their versions, what to install for
    what is missing, and the processor's bf16, fp16 and int8 units with what
    each runtime computes in by default because of them (OpenVINO's CPU
    plugin rounds to bf16 where it has bf16 units). Nothing heavy is imported: it takes a moment even
    on a machine with TensorFlow, JAX and PyTorch.

    \b
    With --json, one object on standard output:
      {"kerasexport": str, "python": str,
       "backends": [{"name": str, "installed": bool, "package": str, "version": str or null}],
       "formats":  [{"backend": str, "format": str, "writable": bool,
                     "routes": [{"route": "native" or "cross-backend",
                                 "backend": str,        the backend that exports
                                 "available": bool,
                                 "missing": [str]}]}],  packages to pip install
       "packages": [{"module": str, "package": str, "installed": bool,
                     "version": str or null, "purpose": str}],
       "processor": {"features": {"bf16": [str], "fp16": [str], "int8": [str]},   flags present
                     "runtimes": [{"runtime": str,
                                   "default": str,      precision of a default call, e.g. "bf16"
                                   "note": str}]}}
    "formats" covers the installed backends only.

    \b
    Examples:
      kerasexport doctor
      kerasexport doctor --json | jq '.formats[] | select(.writable | not)'
    """
    survey = capabilities.survey()
    click.echo(json.dumps(survey, indent=2) if as_json else render(survey))


def render(survey):
    """The survey as text tables."""
    lines = [f"kerasexport {survey['kerasexport']} on Python {survey['python']}", "", "Backends"]
    lines += _table([(b["name"], b["version"] or "-", _installation(b)) for b in survey["backends"]])
    lines += ["", "What each installed backend can write here (routes in the order tried)"]
    writes = [(f["backend"], f["format"], _routes(f)) for f in survey["formats"]]
    lines += _table(writes) or ["  nothing: no backend is installed"]
    lines += ["", "Runtimes and converters"]
    lines += _table([(p["package"], p["version"] or "missing", p["purpose"]) for p in survey["packages"]])
    lines += ["", "Processor units that change the runtimes' defaults"]
    features = survey["processor"]["features"]
    lines += _table([(kind, ", ".join(flags) if flags else "none") for kind, flags in features.items()])
    lines += ["", "What the runtimes compute in by default here"]
    lines += _table([(r["runtime"], r["default"], r["note"]) for r in survey["processor"]["runtimes"]])
    absent = [p["package"] for p in survey["packages"] if not p["installed"]]
    lines.append("")
    if absent:
        lines.append(f"Missing: {', '.join(absent)}. Install with: pip install {' '.join(absent)}")
    else:
        lines.append("Missing: nothing.")
    return "\n".join(lines)


def _installation(backend):
    return "installed" if backend["installed"] else f"not installed (pip install {backend['package']})"


def _routes(entry):
    available = [_route(r) for r in entry["routes"] if r["available"]]
    if available:
        return "; ".join(available)
    needs = sorted({p for r in entry["routes"] for p in r["missing"]})
    return f"no: needs {', '.join(needs)}"


def _route(route):
    if route["route"] == "native":
        return "native"
    return f"{route['route']} ({route['backend']} worker)"


def _table(rows):
    """Rows as aligned columns; the last column is left ragged."""
    if not rows:
        return []
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "".join(str(c).ljust(w + 2) for c, w in zip(row, widths)) + str(row[-1]) for row in rows]
