"""The unit of work's savepoints: what a rolled-back savepoint registered to run after the
commit (a settlement task for a payment it wrote, say) is dropped with its rows, on SQLite and
PostgreSQL; what was registered before it, or in a savepoint that held, still runs."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aspsp.ledger.models import Party
from tests import factories


def parties(database) -> int:
    with database.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Party))


def test_a_rolled_back_savepoint_drops_its_after_commit_callbacks(database, clock):
    sent: list[str] = []
    before = parties(database)
    with database.uow() as uow:
        uow.on_commit(lambda: sent.append("before"))
        savepoint = uow.savepoint()
        factories.party(uow, "Rolled Back", now=clock.now())
        uow.on_commit(lambda: sent.append("rolled back"))
        savepoint.rollback()
        with uow.savepoint():
            factories.party(uow, "Kept", now=clock.now())
            uow.on_commit(lambda: sent.append("kept"))
        with pytest.raises(RuntimeError), uow.savepoint():
            uow.on_commit(lambda: sent.append("raised"))
            raise RuntimeError("refused")
        uow.on_commit(lambda: sent.append("after"))
        uow.commit()
    assert sent == ["before", "kept", "after"]
    assert parties(database) == before + 1
