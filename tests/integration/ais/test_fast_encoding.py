"""Transaction pages are encoded straight from the shaped rows (aspsp.ais.encoding), not
dumped through the response schema: what a TPP receives must still be exactly what the schema
would give, under Detail and Basic permissions, with and without ReadPAN, on every kind of
transaction list (bulk, one account, one statement)."""
from __future__ import annotations

import pytest

from aspsp.ais.schemas import OBReadTransaction6Schema
from tests.integration.ais.conftest import BASIC, EVERYTHING, data_of

WITHOUT_PAN = [p for p in EVERYTHING if p != "ReadPAN"]


def schema_round_trip(body: dict) -> dict:
    """The body as the response schema reads it (unknown fields refused) and dumps it."""
    schema = OBReadTransaction6Schema()
    return schema.dump(schema.load(body))


@pytest.mark.parametrize("permissions", [EVERYTHING, WITHOUT_PAN, BASIC],
                         ids=["detail", "detail-without-pan", "basic"])
def test_a_transactions_page_is_what_the_response_schema_dumps(permissions, aisp, demo,
                                                                grant):
    alice = demo("alice")
    access = grant(aisp, alice, permissions)
    statement = data_of(access.get(f"/accounts/{alice.account_ids[0]}/statements")
                        )["Statement"][0]
    lists = ["/transactions"] + [f"/accounts/{a}/transactions" for a in alice.account_ids] + [
        f"/accounts/{alice.account_ids[0]}/statements/{statement['StatementId']}/transactions"]
    for path in lists:
        response = access.get(path)
        assert response.status_code == 200, (path, response.get_json())
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert body["Data"]["Transaction"], path
        assert schema_round_trip(body) == body, path
