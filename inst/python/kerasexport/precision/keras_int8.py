"""int8 SavedModels and `.pt2` programs by Keras's own quantization.

`model.quantize("int8")` stores Dense, EinsumDense and Embedding kernels as
int8 with per-channel scales and quantizes their inputs as each call runs
(dynamic quantization); the exporters carry the int8 variables and the
quantize/dequantize operations into the graph. It runs on a copy of the
model, so the caller's model stays float.
"""

STAGE = "model"
PRECISIONS = ("int8",)
QUANTIZATIONS = ("dynamic",)
NEEDS = {"int8": ()}


def method(precision, calibration):
    return "Keras's int8 quantization (model.quantize, dynamic)"


def quantized_copy(model):
    """A copy of `model` with the same weights, quantized to int8.

    Raises:
        PrecisionError: a model Keras cannot copy (subclassed, without a
            config) or has nothing to quantize in.
    """
    import keras

    from kerasexport import errors

    try:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    except Exception as exc:
        raise errors.PrecisionError(
            f"Keras's int8 quantization runs on a copy of the model, and this model cannot be "
            f"copied ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}). "
            "Export ONNX, OpenVINO or LiteRT at int8 instead."
        ) from exc
    layers = [layer for layer in copy._flatten_layers(include_self=False)
              if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Embedding))]
    if not layers:
        raise errors.PrecisionError(
            "Keras's int8 quantization applies to Dense, EinsumDense and Embedding layers, and this "
            "model has none. Export ONNX, OpenVINO or LiteRT at int8 instead."
        )
    copy.quantize("int8")
    return copy
