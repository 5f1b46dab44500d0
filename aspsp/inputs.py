"""Input no handler should ever see: NUL characters (PostgreSQL refuses them in text, which
would surface as a 500). Refused before routing, in the format of the API that was called."""
from __future__ import annotations

from flask import Flask, Response, jsonify, request


def _has_nul() -> bool:
    # OB resource ids are checked by their own handlers (an unknown id, NUL or not, is the
    # profile's 400 Resource.NotFound); everywhere else a NUL in the path is refused here.
    if "\x00" in request.path and not request.path.startswith("/open-banking/"):
        return True
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    return any("\x00" in key or "\x00" in value
               for source in sources for key, value in source.items(multi=True))


def _refuse() -> Response:
    if request.path.startswith("/open-banking/"):
        from . import obapi
        return obapi.render(obapi.bad_request(obapi.ErrorCode.FIELD_INVALID,
                                              "NUL characters are not allowed"))
    if request.path.startswith(("/psu/", "/developers/")):
        return Response("<!doctype html><title>Bad request</title><h1>Bad request</h1>",
                        status=400, mimetype="text/html")
    response = jsonify(error="invalid_request", error_description="NUL characters are not allowed")
    response.status_code = 400
    return response


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():
        if _has_nul():
            return _refuse()
