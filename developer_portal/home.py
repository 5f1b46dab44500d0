"""The portal's front page: for a visitor, what the portal offers and the way in; for a
signed-in developer, their organisations and apps."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from aspsp import platform, web_pages

from . import auth

bp = Blueprint("portal", __name__, url_prefix="/developers", template_folder="templates",
               static_folder="static", static_url_path="/static")
web_pages.protect_pages(bp)


@bp.get("/")
def index():
    p = platform.current()
    with p.uow() as uow:
        developer = auth.current_developer(uow, p.clock.now())
        if developer is None:
            return render_template("portal/welcome.html",
                                   sandbox=bool(p.config["SANDBOX_ENABLED"]))
        g.developer = developer          # the header's sign-out form and the banners
        return render_template("portal/home.html", developer=developer,
                               memberships=auth.memberships(uow, developer),
                               apps=auth.apps_of(uow, developer))
