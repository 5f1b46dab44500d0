"""The interactive API documentation (/open-banking/docs), served wholly by the platform.

Swagger UI's files come from the swagger-ui-bundle package and are served at
/open-banking/docs/assets/ (only the few the page uses), so the docs work on a machine
without internet and load nothing from another origin. The page itself is flask-smorest's
`swagger_ui.html`, overridden by aspsp/templates/swagger_ui.html (the app's templates come
before a blueprint's): it has no inline script, so its Content-Security-Policy allows scripts
from this origin only; aspsp/static/swagger-init.js starts Swagger UI. The page and its assets
carry the customer pages' other security headers too (X-Frame-Options, nosniff, no referrer).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/open-banking/docs/assets/"
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}
INIT_SCRIPT = "swagger-init.js"
OWN_STATIC = Path(__file__).parent / "static"
DOCS_ENDPOINTS = {"ob-api-docs.openapi_swagger_ui", "ob-docs-assets.asset"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'{api}; form-action 'none'; frame-ancestors 'none'; "
       "base-uri 'none'")

bp = Blueprint("ob-docs-assets", __name__)


@bp.get(ASSETS_URL + "<filename>")
def asset(filename: str):
    if filename == INIT_SCRIPT:
        return send_from_directory(OWN_STATIC, filename, max_age=3600)
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(Path(str(swagger_ui_path)), filename, max_age=86400)


def swagger_ui_settings() -> dict:
    """flask-smorest's Swagger UI settings (prefix OB_): local assets, no online validator."""
    return {"OB_OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
            "OB_OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None}}


def init_app(app: Flask) -> None:
    if "ob-docs-assets" in app.blueprints:
        return
    app.register_blueprint(bp)
    issuer = urlsplit(app.config.get("ISSUER", ""))
    api = f" {issuer.scheme}://{issuer.netloc}" if issuer.scheme in ("http", "https") \
        and issuer.netloc and not any(c in issuer.netloc for c in " ;,'\"") else ""
    policy = CSP.format(api=api)

    @app.after_request
    def docs_headers(response):
        if request.endpoint in DOCS_ENDPOINTS:
            response.headers["Content-Security-Policy"] = policy
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
        return response
