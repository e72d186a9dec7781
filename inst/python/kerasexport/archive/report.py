"""What `ExportArchive.write_out()` did, for the caller and for the one-line message."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ArchiveReport:
    """The outcome of `ExportArchive.write_out()`.

    Attributes:
        path: where the SavedModel now stands.
        backend: the Keras backend it was written from.
        endpoints: endpoint names, in the order they were added.
        serving_default: the endpoint TF-Serving calls by default.
        variable_collections: names of the variable collections.
        verified: `dict` from endpoint name to its worst relative error.
        unverified: `dict` from endpoint name to why it was not compared.
        rtol: the tolerance verified endpoints were held to.
        seconds: wall time of the whole write.
        route: `"native"` (Keras's archive in this process) or
            `"cross-backend"` (built in a TensorFlow worker, PyTorch).
    """

    path: str
    backend: str
    endpoints: tuple
    serving_default: str
    variable_collections: tuple
    verified: dict
    unverified: dict
    rtol: float
    seconds: float
    route: str = "native"

    def summary(self):
        """One line: endpoints, which were verified, and time."""
        if self.verified:
            worst = max(self.verified.values())
            checked = (
                f"verified {', '.join(self.verified)} (max relative error "
                f"{worst:.2g}, tolerance {self.rtol:g})"
            )
        else:
            checked = "no endpoint verified"
        if self.unverified:
            checked += f"; not verified: {', '.join(self.unverified)}"
        route = " by the cross-backend route" if self.route != "native" else ""
        return (
            f"Wrote a SavedModel with {len(self.endpoints)} endpoint(s) "
            f"({', '.join(self.endpoints)}; serving_default: "
            f"{self.serving_default}) from the {self.backend} backend{route}; "
            f"{checked}; {self.seconds:.1f}s."
        )

    __str__ = summary
