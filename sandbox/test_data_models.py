"""Which sandbox app owns which test customer (sandbox/test_data.py).

A developer's app gets its own test customers: a login, a party and accounts in the bank,
made through the identity and ledger services like any customer's. This table only says whose
they are, how the customer behaves in the sandbox (`behaviour`: the scenario users of
sandbox/scenarios.py) and when the app's reset removed them (the journal is append-only: the
customer's accounts are closed and their login disabled, never deleted).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aspsp.db import Base
from aspsp.identity.models import PsuUser
from aspsp.types import BigPK, UTCDateTime

STANDARD, SCA_FAILS = "standard", "sca_fails"
BEHAVIOURS = {STANDARD: "Standard: the sandbox's SCA shortcuts (code 123456, current code "
                        "shown on the page)",
              SCA_FAILS: "SCA always fails: every one-time code is refused"}


class SandboxTestCustomer(Base):
    __tablename__ = "sandbox_test_customers"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    app_pk: Mapped[int] = mapped_column(ForeignKey("portal_apps.id"), index=True)
    psu_pk: Mapped[int] = mapped_column(ForeignKey("psu_users.id"), unique=True)
    behaviour: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    psu: Mapped[PsuUser] = relationship()
