"""The sandbox's outbox (only while SANDBOX_ENABLED): the mails the developer portal sent
(developer_portal.mail's `outbox` backend records them as PortalMail rows), newest first,
with their bodies and clickable links, so a developer can verify an address or reset a
password without a real mailbox.

Mails carry one-time links, so the page shows a browser only the mails it caused itself
(sign-up, a new verification link, a reset request: their ids are kept in its session) and
those addressed to the developer signed in there (after the password step), never everyone's.
In production the page does not exist (404): a real mail backend sends the mails.
"""
from __future__ import annotations

import re

from flask import Blueprint, render_template, session
from sqlalchemy import or_, select

from aspsp import platform, web_pages
from developer_portal import accounts, auth
from developer_portal.models import PortalMail

bp = Blueprint("sandbox_outbox", __name__, url_prefix="/sandbox/outbox",
               template_folder="templates")
web_pages.protect_pages(bp)

SHOWN = 50
LINK = re.compile(r"(https?://[^\s<>\"']+)")


def parts(body: str) -> list[tuple[str, bool]]:
    """The body as (text, is_link) pieces: the template makes the links clickable and
    escapes everything."""
    return [(piece, bool(i % 2)) for i, piece in enumerate(LINK.split(body)) if piece]


@bp.get("")
def page():
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        developer = auth.current_developer(uow, now) or auth.password_stage_developer(uow, now)
        ids = [i for i in session.get(accounts.MAILS_KEY, []) if isinstance(i, int)]
        mine = [PortalMail.id.in_(ids)] if ids else []
        if developer is not None:
            mine.append(PortalMail.to_address == developer.email)
        mails = list(uow.session.scalars(select(PortalMail).where(or_(*mine))
                                         .order_by(PortalMail.id.desc()).limit(SHOWN))) \
            if mine else []
        return render_template("sandbox/outbox.html",
                               mails=[(mail, parts(mail.body)) for mail in mails])
