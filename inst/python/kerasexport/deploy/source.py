"""What a deployment is made from: SRC read as `kerasexport serve` reads it.

SRC is one artifact or a model repository; `serving.repository.Repository`
finds its models, versions and artifacts (`Repository.artifacts()`), so
what `write_repository` copies is what the server would serve. Each
artifact is opened with `kerasexport.load()` to read its default endpoint:
the tensors an engine's configuration declares are the artifact's own.
"""

import dataclasses
import os

from kerasexport import errors
from kerasexport import formats


@dataclasses.dataclass(frozen=True)
class Version:
    """One version of a model in SRC.

    Attributes:
        model: the model's name.
        number: the version, a positive `int`.
        path: the artifact (a file, or a SavedModel directory).
        format: its format (`kerasexport.formats.FORMATS`).
        endpoint: the artifact's default `Endpoint` (what engines call).
        endpoints: the names of all its endpoints.
    """

    model: str
    number: int
    path: str
    format: str
    endpoint: object
    endpoints: tuple

    def files(self):
        """The artifact's files: `path` and its companions (OpenVINO's `.bin`)."""
        return [self.path, *formats.get(self.format).companions(self.path)]


@dataclasses.dataclass(frozen=True)
class Problem:
    """A version that could not be read, or that an engine cannot take."""

    model: str
    number: int
    format: str
    reason: str

    def __str__(self):
        fmt = f" ({self.format})" if self.format else ""
        return f"model {self.model!r} version {self.number}{fmt}: {self.reason}"


def read(src):
    """The versions of every model under `src`, and those that cannot be read.

    Args:
        src: a path: one artifact, or a repository ``ROOT/<model>/<version>/``.

    Returns:
        (list of `Version`, list of `Problem`), by model then version.

    Raises:
        PathError: `src` does not exist or holds no model.
    """
    from kerasexport.api import load
    from kerasexport.serving.repository import Repository

    if not os.path.exists(src):
        raise errors.PathError(
            f"The source {os.fspath(src)!r} does not exist. Expected an artifact or a "
            "model repository (ROOT/<model>/<version>/) as `kerasexport serve` reads it.")
    repository = Repository(src)
    found = repository.artifacts()
    versions, problems = [], []
    for model, numbered in sorted(found.items()):
        for number, path in sorted(numbered.items()):
            if isinstance(path, Exception):
                problems.append(Problem(model, number, "", str(path)))
                continue
            try:
                artifact = load(path)
                endpoint = artifact.endpoint()
            except Exception as exc:  # this version's problem, not the others'
                problems.append(Problem(model, number, formats.detect(path) or "",
                                        f"cannot be opened: {repository._scrub(exc)}"))
                continue
            versions.append(Version(model, number, path, artifact.format, endpoint,
                                    tuple(artifact.endpoints)))
    if not versions and not problems:
        raise errors.PathError(
            f"The source {os.fspath(src)!r} holds no model. Expected an artifact or a "
            "model repository (ROOT/<model>/<version>/<artifact>).")
    return versions, problems
