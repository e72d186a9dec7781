"""What the page shows and polls (``GET /page/models``): models, versions, states, signatures.

Each available version lists its endpoints with their inputs and outputs
(names, dtypes, shapes; `None` for a dynamic dimension), which inputs are
image-shaped (`schemas.image`), and an example TF-Serving columnar request
built from the signature (`schemas.example`) that the page's form starts
from. Failed versions carry their load error, as the server logged it.
"""

from kerasexport.serving.page import schemas
from kerasexport.serving.repository import AVAILABLE


def models(models, *, version, token):
    """The page's state document for `Repository.models()`."""
    return {"server": version, "token": bool(token),
            "models": [{"name": name, "versions": [_version(v) for v in reversed(versions)]}
                       for name, versions in models.items()]}


def _version(version):
    entry = {"version": version.number, "state": version.state, "error": version.error, "format": None,
             "endpoints": []}
    artifact = version.artifact
    if version.state != AVAILABLE or artifact is None:
        return entry
    entry["format"] = artifact.format
    entry["precision"] = artifact.precision
    default = artifact.endpoint()
    for endpoint in artifact.endpoints.values():
        if endpoint.serving_default and endpoint.same_as and endpoint is not default:
            continue  # the same function under TF-Serving's name: shown once
        example = {"inputs": schemas.example(endpoint.inputs[0]) if len(endpoint.inputs) == 1
                   else {t.name: schemas.example(t) for t in endpoint.inputs}}
        if endpoint is not default:
            example = {"signature_name": endpoint.name, **example}
        entry["endpoints"].append({
            "name": endpoint.name, "default": endpoint is default,
            "inputs": [_tensor(t, image=True) for t in endpoint.inputs],
            "outputs": [_tensor(t) for t in endpoint.outputs],
            "example": example,
        })
    return entry


def _tensor(info, image=False):
    described = info.describe()
    if image:
        described["image"] = schemas.image(info)
    return described

