"""kerasexport's version: the R package's (DESCRIPTION), which pyproject.toml reads from here."""

__version__ = "0.1.0.9000"
