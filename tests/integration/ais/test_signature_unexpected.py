"""UK.OBIE.Signature.Unexpected on the Account and Transaction API: every AIS resource is a
GET, which has no payload to sign, so an x-jws-signature on one is a 400 with that code,
Path x-jws-signature, before anything is read (as on the payments and events APIs)."""
from __future__ import annotations

import uuid

import pytest

from tests.integration.ais.conftest import EVERYTHING, codes, data_of

# Not database-specific: run once, on SQLite.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize("path", ["/accounts", "/accounts/{account}/transactions",
                                  "/no-such-resource-of-any-account"])
def test_a_signature_on_an_ais_read_is_refused(aisp, demo, grant, path):
    access = grant(aisp, demo("alice"), EVERYTHING)
    interaction = str(uuid.uuid4())
    read = access.get(path.format(account=access.account_ids[0]), headers={
        "x-jws-signature": "any..value", "x-fapi-interaction-id": interaction})
    if path.startswith("/no-such"):        # not a resource: 404 as ever, not the signature
        assert read.status_code == 404
        return
    assert read.status_code == 400
    assert codes(read) == ["UK.OBIE.Signature.Unexpected"]
    assert read.get_json()["Errors"][0]["Path"] == "x-jws-signature"
    assert read.headers["x-fapi-interaction-id"] == interaction
    assert data_of(access.get(path.format(account=access.account_ids[0])))
