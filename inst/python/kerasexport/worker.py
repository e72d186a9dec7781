"""The worker process of the cross-backend route.

Run as ``python -m kerasexport.worker REQUEST.json`` with ``KERAS_BACKEND``
set to the exporting backend (TensorFlow). The request names a ``.keras``
file, the format, the normalized signature (`signature.to_json`), the
exporter's options and the modules to import first (those defining the
model's registered custom classes). The worker loads the model, exports it
with Keras's native exporter on its own backend, and writes the outcome to
the request's ``result`` path as JSON:
``{"ok": true}`` or ``{"ok": false, "stage": "import"|"load"|"export", "error": "..."}``.
It does not verify: the parent process verifies against the original model.
"""

import importlib
import json
import sys
import traceback
import warnings


def run(request):
    """Load the model named in `request` and export it; returns a result dict.

    Args:
        request: `dict` with keys `model`, `output`, `format`, `signature`,
            `options`, `verbose`, `imports` and `weights` (how many weights
            the original model has; a reloaded model with fewer is refused).

    Returns:
        `dict`: `{"ok": True}` or `{"ok": False, "stage": str, "error": str}`.
    """
    stage = "import"
    try:
        for module in request.get("imports", []):
            importlib.import_module(module)
        stage = "load"
        import keras

        from kerasexport import formats
        from kerasexport import signature as signature_lib

        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            model = keras.saving.load_model(request["model"], compile=False, safe_mode=False)
        _check_weights(model, request.get("weights"), seen)
        stage = "export"
        specs = signature_lib.from_json(request["signature"])
        fmt = formats.get(request["format"])
        fmt.write(model, request["output"], specs, request.get("verbose"), **request.get("options", {}))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        from kerasexport import routes

        traceback.print_exc()
        return {"ok": False, "stage": stage, "error": routes.describe(exc)}
    return {"ok": True}


class WeightsLost(RuntimeError):
    """The reloaded model lacks weights the original has."""


def _check_weights(model, expected, seen):
    """Refuse a model that came back with fewer weights than it left with.

    Keras reloads without complaint a model whose `build_from_config()`
    cannot build it (a subclassed model whose `call()` takes several
    tensors): it only warns. Exported, such a model gets fresh random weights.
    """
    if expected is None or len(model.weights) >= expected:
        return
    said = [str(w.message).split("\n")[0] for w in seen if "build" in str(w.message)]
    raise WeightsLost(
        f"the model reloaded from its .keras file has {len(model.weights)} "
        f"weights, the original {expected}. "
        + (f"Keras said: {said[0]}" if said else "Keras could not build it again.")
    )


def main(argv=None):
    """Entry point: read the request file, run, write the result file."""
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        request = json.load(f)
    result = run(request)
    with open(request["result"], "w") as f:
        json.dump(result, f)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
