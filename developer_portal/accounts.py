"""Developer accounts: sign-up, login (password, then TOTP or a backup code), sign-out.
(Being built: this is the foundation's minimum so that other pages can link here.)"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for

from aspsp import web_pages

from . import auth

bp = Blueprint("portal_accounts", __name__, url_prefix="/developers",
               template_folder="templates")
web_pages.protect_pages(bp)


@bp.get("/login")
def login():
    return render_template("portal/login.html")


@bp.post("/logout")
def logout():
    auth.end_login()
    session.end()
    flash("You are signed out.", "success")
    return redirect(url_for("portal.index"), 303)
