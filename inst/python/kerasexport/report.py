"""What an export did, for the caller and for the one-line message."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """The outcome of `kerasexport.export()`.

    Attributes:
        path: where the artifact now stands.
        format: `"tf_saved_model"` or `"onnx"`.
        backend: the Keras backend of the exported model.
        route: `"native"` (Keras's own exporter in this process) or
            `"cross-backend"`.
        reason: why that route was taken.
        verified: whether the artifact was reloaded and compared.
        max_relative_error: worst relative error seen, `None` without
            verification, NaN for a model whose outputs are random (compared
            by shape only).
        rtol: the tolerance it was held to.
        seconds: wall time of the whole export.
        verify_seconds: of which verification (reloading the artifact,
            running it and the model on two batches, comparing), or `None`.
        warnings: genuine warnings from Keras or kerasexport, once each
            (third-party noise is dropped unless `verbose`).
        runtime_defaults: `None`, or how the artifact computes when its
            runtime is called with its bare defaults, where those differ
            from how kerasexport loads it (OpenVINO's CPU plugin defaults to
            bfloat16 on processors with bfloat16 units): a `dict` with
            `call`, `inference_precision`, `low_precision_layers` and
            `max_relative_error` against the model.
        precision: `"float32"`, `"float16"`, `"bfloat16"` or `"int8"`.
        reduced: `None` for float32; else a `dict`: `precision`, `method`
            (the tool and mode used), `size` and `float32_size` (bytes on
            disk; the float32 artifact's where it was written first),
            and, when verified, `max_relative_error`,
            `mean_relative_error` and `top1_agreement` (`None` unless the
            outputs are class scores) against the float model on `rows`
            input rows, the limits held (`rtol`, `agreement`), and
            `runtime_defaults` (the same figures under the runtime's bare
            defaults, or `None`). `max_relative_error` above is the float32
            artifact's (`None` for LiteRT, written reduced).
    """

    path: str
    format: str
    backend: str
    route: str
    reason: str
    verified: bool
    max_relative_error: object
    rtol: float
    seconds: float
    warnings: tuple = ()
    verify_seconds: object = None
    runtime_defaults: object = None
    precision: str = "float32"
    reduced: object = None

    def summary(self):
        """One line: format, backend, route, parity and time."""
        if self.reduced:
            parity = self._reduced_clause()
        elif self.verified and self.max_relative_error != self.max_relative_error:  # NaN
            parity = "verified by output shapes only (the model's outputs are random)"
        elif self.verified:
            parity = f"verified, max relative error {self.max_relative_error:.2g} (tolerance {self.rtol:g})"
        else:
            parity = "not verified"
        if self.runtime_defaults:
            defaults = self.runtime_defaults
            parity += (
                f"; under the runtime's defaults {defaults['low_precision_layers']} layer(s) run in "
                f"{defaults['inference_precision']}, relative error {defaults['max_relative_error']:.2g}"
            )
        return (
            f"Exported {self.format} from the {self.backend} backend by the "
            f"{self.route} route; {parity}; {self.seconds:.1f}s."
        )

    def _reduced_clause(self):
        r = self.reduced
        text = f"{r['precision']} by {r['method']}"
        if r.get("float32_size"):
            text += f", {r['size'] / r['float32_size']:.2f}x float32's size"
        if "max_relative_error" not in r:
            return f"{text}, not verified"
        figures = f"worst relative error {r['max_relative_error']:.2g}"
        if r.get("top1_agreement") is not None:
            figures += f", top-1 agreement {r['top1_agreement']:.4g}"
        limits = ", ".join(f"{k} {r[k]:g}" for k in ("rtol", "agreement") if r.get(k) is not None)
        return f"{text}; verified within budget ({limits}): {figures} on {r['rows']} row(s)"

    __str__ = summary
