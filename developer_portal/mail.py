"""The portal's outgoing mail (e-mail verification, password reset).

`send(uow, to, subject, body)` records the mail as a PortalMail row (table portal_outbox: the
record of every mail the portal sent) and hands it to the backend PORTAL_MAIL_BACKEND names:
- `outbox` (the only one so far): the row is the delivery. The sandbox shows the rows as its
  outbox page (/sandbox/outbox), so a developer can click the links in them; in production
  nothing shows them.
- a real backend (SMTP, a mail API) is one function added to BACKENDS: it gets the PortalMail
  row and the app's configuration, and sends it (it should hand the mail to a queue rather
  than block the request: the caller's unit of work is still open).

Mail bodies hold secrets (one-time links): the log line names the mail (id, subject, a masked
address, the backend), never its body.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from aspsp import platform

from .models import PortalMail

log = logging.getLogger(__name__)

OUTBOX = "outbox"


def _outbox(mail: PortalMail, config: Mapping[str, Any]) -> None:
    """The PortalMail row already is the delivery."""


BACKENDS: dict[str, Callable[[PortalMail, Mapping[str, Any]], None]] = {OUTBOX: _outbox}


class UnknownMailBackend(RuntimeError):
    """PORTAL_MAIL_BACKEND names no backend: the app refuses to start."""


def backend(config: Mapping[str, Any]) -> Callable[[PortalMail, Mapping[str, Any]], None]:
    name = str(config.get("PORTAL_MAIL_BACKEND") or OUTBOX)
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnknownMailBackend(
            f"PORTAL_MAIL_BACKEND={name!r} is not a mail backend; the portal has: "
            f"{', '.join(sorted(BACKENDS))}") from None


def send(uow, to: str, subject: str, body: str) -> PortalMail:
    """Send one plain-text mail (the caller commits)."""
    p = platform.current()
    mail = PortalMail(to_address=to[:254], subject=subject[:200], body=body[:8000],
                      created_at=p.clock.now())
    uow.session.add(mail)
    uow.session.flush()
    deliver = backend(p.config)
    deliver(mail, p.config)
    log.info("portal mail sent", extra={"fields": {
        "mail_id": mail.id, "to": masked(to), "subject": subject[:200],
        "backend": str(p.config.get("PORTAL_MAIL_BACKEND") or OUTBOX)}})
    return mail


def masked(address: str) -> str:
    """d***@example.com: enough to tell mails apart in a log, not the address."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
