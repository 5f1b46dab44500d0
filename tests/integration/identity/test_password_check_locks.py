"""A password check holds no lock on the customer's row while it hashes (PostgreSQL, where
row locks exist): concurrent checks of a known username must not queue behind each other
when those of an unknown one do not, or the time of an answer tells whether a name exists."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from aspsp.identity import services as identity
from aspsp.identity.errors import InvalidCredentials
from aspsp.identity.models import PsuUser
from bank import create_app
from tests.conftest import TEST_ISSUER, create_pg_database, drop_pg_database, service_missing
from tests.psu_factories import psu as make_psu


@pytest.fixture
def own_database():
    """A migrated PostgreSQL database of its own: the test commits for real (two connections
    must see the row), which the shared per-run database of the other tests must never hold."""
    try:
        url = create_pg_database("aspsp_locks")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    yield url
    drop_pg_database(url)


def test_a_password_check_holds_no_lock_on_the_customers_row(own_database, clock, tmp_path):
    app = create_app({"DATABASE_URL": own_database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER})
    platform = app.extensions["aspsp"]
    username = f"timing-{uuid.uuid4().hex[:12]}"
    try:
        with app.app_context():
            with platform.uow() as uow:
                make_psu(uow, now=clock.now(), username=username)
                uow.commit()
            with platform.uow() as checking:          # a wrong password, not yet committed
                with pytest.raises(InvalidCredentials):
                    identity.authenticate_password(checking, username, "wrong", "198.51.100.1",
                                                   clock.now())
                # The attempt's record references the row (a foreign key's KEY SHARE lock);
                # what the old code held, FOR UPDATE, also stops a FOR NO KEY UPDATE.
                with platform.db.engine.connect() as other:
                    locked = other.execute(select(PsuUser.id).where(
                        PsuUser.username == username)
                        .with_for_update(nowait=True, key_share=True)).all()
                    assert len(locked) == 1              # not "could not obtain lock on row"
                checking.commit()
    finally:
        platform.db.engine.dispose()
