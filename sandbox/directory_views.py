"""The sandbox directory over HTTP (only while SANDBOX_ENABLED): its own JWKS (the trust
anchor's keys), the organisation and software JWKS endpoints named in SSAs, and SSA issuance
for the holder of a software key."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from aspsp import platform

from . import directory

bp = Blueprint("sandbox_directory", __name__, url_prefix=directory.PREFIX)

JWT_TYPES = ("application/jwt", "application/jose")


def _error(status: int, error: str, description: str):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(directory.NotFound)
def _not_found(exc):
    return _error(404, "not_found", str(exc))


@bp.errorhandler(directory.DirectoryError)
def _refused(exc):
    return _error(400, "invalid_request", str(exc))


@bp.errorhandler(directory.NotAuthenticated)
def _not_authenticated(exc):
    return _error(401, "invalid_client", str(exc))


def _jwks(jwks: dict):
    response = jsonify(jwks)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/jwks")
def directory_jwks():
    p = platform.current()
    with p.uow() as uow:
        return _jwks(directory.directory_jwks(uow, now=p.clock.now()))


@bp.get("/organisations/<org_id>/jwks")
def organisation_jwks(org_id: str):
    with platform.current().uow() as uow:
        return _jwks(directory.organisation_jwks(uow, org_id))


@bp.get("/software/<software_id>/jwks")
def software_jwks(software_id: str):
    with platform.current().uow() as uow:
        return _jwks(directory.software_jwks(uow, software_id))


@bp.post("/software/<software_id>/ssa")
def issue_ssa(software_id: str):
    """Body: a software assertion (application/jwt) signed by a key of the software.
    Answer: the SSA (application/jwt)."""
    if request.mimetype not in JWT_TYPES:
        return _error(400, "invalid_request",
                      "send a software assertion signed by the software's key as application/jwt")
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        directory.authenticate_software(uow, software_id, request.get_data(as_text=True).strip(),
                                        audience=platform.public_url(), now=now, replay=p.replay)
        ssa = directory.issue_ssa(uow, software_id, now=now, issuer=p.config["ISSUER"],
                                  keyring=p.keyring)
        uow.commit()
    return Response(ssa, status=200, mimetype="application/jwt",
                    headers={"Cache-Control": "no-store"})
