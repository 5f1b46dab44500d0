"""The portal's docs page (/developers/docs) and the Postman collection
(/developers/docs/postman.json), both public: the interactive API docs the platform serves
(/open-banking/docs, aspsp/api_docs.py), the OpenAPI document, each of the developer's apps'
quickstart, the sandbox's demo customers and magic values, and the collection generated from
the same OpenAPI document (developer_portal/postman.py)."""
from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, current_app, render_template

from aspsp import obapi, platform, web_pages

from . import add_nav, auth, postman

bp = Blueprint("portal_docs", __name__, url_prefix="/developers/docs",
               template_folder="templates")
web_pages.protect_pages(bp)

DEMO_LOGINS = "sandbox_demo_logins"     # app.extensions key the sandbox fills (text)


def openapi_document() -> dict:
    """The OpenAPI document /open-banking/openapi.json serves."""
    return current_app.extensions[obapi.EXTENSION].spec.to_dict()


@bp.get("/")
def index():
    p = platform.current()
    with p.uow() as uow:
        developer = auth.current_developer(uow, p.clock.now())
        apps = auth.apps_of(uow, developer) if developer is not None else []
        demo = current_app.extensions.get(DEMO_LOGINS)
        spec = openapi_document()
        return render_template(
            "portal/docs.html", apps=apps, signed_in=developer is not None,
            demo_logins=demo() if callable(demo) else None,
            sandbox=bool(p.config["SANDBOX_ENABLED"]),
            issuer=p.config["ISSUER"].rstrip("/"),
            apis=[(t.get("name"), t.get("description", "")) for t in spec.get("tags") or []],
            operations=sum(1 for item in spec.get("paths", {}).values()
                           for method in postman.METHODS if method in item))


@bp.get("/postman.json")
def postman_collection():
    issuer = platform.current().config["ISSUER"].rstrip("/")
    body = postman.collection(openapi_document(), base_url=issuer,
                              name="Invisible Bank Open Banking APIs")
    return Response(json.dumps(body, indent=2), mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="invisible-bank.postman_collection.json"'})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav(app, "Docs", "portal_docs.index")
