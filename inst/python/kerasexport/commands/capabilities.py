"""What this machine can export, derived from the core's own tables.

Routes come from `routes.plan` (so `routes.NATIVE` and `routes.CROSS_BACKENDS`),
formats from `formats.FORMATS`, the packages each route needs from
`dependencies.needed_for_export`: a format or route added there shows up
here unchanged. Nothing heavy is imported: packages are found with
`importlib.util.find_spec` and versioned with `importlib.metadata`.
"""

import importlib.metadata
import importlib.util
import platform

from kerasexport import cpu
from kerasexport import dependencies
from kerasexport import formats
from kerasexport import routes
from kerasexport.commands import backend as backend_lib

_KERAS = ("keras", "keras", "load .keras files and run the exporters")


def survey():
    """The backends, what each installed one can write by which route, the packages.

    Returns:
        A dict, as ``kerasexport doctor --json`` prints it (see its help).
    """
    installed = [b for b in backend_lib.BACKENDS if backend_lib.installed(b)]
    everything = [_KERAS] + [_backend_package(b) for b in backend_lib.BACKENDS] + [
        triple
        for backend in backend_lib.BACKENDS for format in formats.FORMATS
        for route in routes.plan(backend, format) for triple in needed(backend, format, route)
    ]
    return {
        "kerasexport": _kerasexport_version(),
        "python": platform.python_version(),
        "backends": [_backend_entry(b) for b in backend_lib.BACKENDS],
        "formats": [_format_entry(b, f) for b in installed for f in formats.FORMATS],
        "packages": [_package_entry(*triple) for triple in _merged(everything)],
        "processor": _processor(),
    }


def _processor():
    """The processor's bf16, fp16 and int8 units, and what each runtime does with them."""
    found = cpu.features()
    return {"features": found, "runtimes": cpu.runtimes(found)}


def needed(backend, format, route):
    """The (module, package, purpose) triples `route` needs for a model on `backend`.

    Keras and the model's backend (to load it), the route's backend when it
    is another (the worker's), and what the format's exporter and runtime need.
    """
    triples = [_KERAS, _backend_package(backend)]
    if route.backend != backend:
        triples.append(_backend_package(route.backend))
    return triples + dependencies.needed_for_export(format, route.backend, True)


def _backend_package(backend):
    module, package = backend_lib.PACKAGES[backend]
    return (module, package, f"run the {backend} backend")


def _merged(triples):
    """One triple per module, its purposes joined."""
    merged = {}
    for module, package, purpose in triples:
        entry = merged.setdefault(module, (package, []))
        if purpose not in entry[1]:
            entry[1].append(purpose)
    return [(module, package, "; ".join(purposes)) for module, (package, purposes) in merged.items()]


def _backend_entry(backend):
    module, package = backend_lib.PACKAGES[backend]
    return {"name": backend, "installed": backend_lib.installed(backend), "package": package,
            "version": _version(module, package)}


def _format_entry(backend, format):
    entries = []
    for route in routes.plan(backend, format):
        absent = dependencies.missing(_merged(needed(backend, format, route)))
        entries.append({"route": route.name, "backend": route.backend, "available": not absent,
                        "missing": [package for _, package, _ in absent]})
    return {"backend": backend, "format": format,
            "writable": any(e["available"] for e in entries), "routes": entries}


def _package_entry(module, package, purpose):
    installed = importlib.util.find_spec(module) is not None
    return {"module": module, "package": package, "installed": installed,
            "version": _version(module, package) if installed else None, "purpose": purpose}


def _version(module, package):
    """The installed distribution's version, without importing the module."""
    if importlib.util.find_spec(module) is None:
        return None
    for name in dict.fromkeys([package, *_distributions().get(module, ())]):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


_DISTRIBUTIONS = {}


def _distributions():
    """Top-level module -> distribution names (read once: it scans every package)."""
    if not _DISTRIBUTIONS:
        _DISTRIBUTIONS.update(importlib.metadata.packages_distributions())
    return _DISTRIBUTIONS


def _kerasexport_version():
    from kerasexport.version import __version__

    return __version__
