"""An archive checked as users get it: opened as `kerasexport.load()` opens it.

Every endpoint must be there (as a signature, and as an attribute of the
reloaded object, where Keras's `tfsm_layer` and `tf.saved_model.load`
users find it); each endpoint with a reference model is run through the
opened `Artifact` on generated inputs and compared with that model in
inference mode. The others are listed with the reason they were not.
"""

from kerasexport import errors
from kerasexport import verify as verify_lib
from kerasexport.artifact import SERVING_DEFAULT
from kerasexport.formats import saved_model


def verify_archive(plan, path, verify, rtol):
    """Open the SavedModel at `path` and compare its endpoints with their reference models.

    Args:
        plan: the archive's `ArchivePlan`.
        path: `str`, the staging path of the SavedModel.
        verify: `bool`; without it, nothing is compared (presence still is).
        rtol: `float`, the tolerance.

    Returns:
        (`dict` endpoint -> worst relative error, `dict` endpoint -> why not compared).

    Raises:
        VerificationError: an endpoint missing, or not reproducing its model.
    """
    try:
        artifact = saved_model.open(path)
    except errors.ArtifactError as exc:
        raise errors.VerificationError(f"The archive could not be loaded: {exc}") from exc
    signatures = set(artifact.runtime.signatures.keys())
    expected = set(plan.endpoints) | {SERVING_DEFAULT}
    missing = sorted(
        name for name in expected
        if name not in signatures or (name != SERVING_DEFAULT and not hasattr(artifact.runtime, name))
    )
    if missing:
        raise errors.VerificationError(
            f"The reloaded SavedModel lacks endpoint(s) {missing}; it has "
            f"signatures {sorted(signatures)}. Nothing was written."
        )
    verified, unverified = {}, {}
    for endpoint in plan.endpoints.values():
        if not verify:
            unverified[endpoint.name] = "verify=False"
        elif endpoint.reference is None:
            unverified[endpoint.name] = endpoint.reason
        else:
            run = verify_lib.artifact_runner(artifact, endpoint.verify_specs, endpoint=endpoint.name)
            try:
                verified[endpoint.name] = verify_lib.check(endpoint.reference, run, endpoint.verify_specs, rtol)
            except errors.VerificationError as exc:
                raise errors.VerificationError(f"Endpoint {endpoint.name!r}: {exc}") from exc
    return verified, unverified
