"""A funds-confirmation consent ends at once: at its ExpirationDateTime (the next
confirmation is a bare 401, the consent reads as it was, its expiry in the past) and at the
CBPII's DELETE (the next confirmation is 401, the consent is gone for the CBPII); consents
are validated when created (the DebtorAccount's scheme and identification, the expiry in the
future, unknown fields); the customer's approval is for the account named, and no other."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from aspsp.ledger.models import Party
from consent import services as consents
from consent.errors import AccountNotSelectable, NoAccountSelected
from consent.models import Consent
from tests import factories
from tests.integration.cof.conftest import CONSENTS, SCOPE, consent_body


def codes(response) -> list[str]:
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]


def test_a_confirmation_at_the_expiry_moment_is_refused(cbpii, holder, approved, clock):
    expiry = clock.now() + timedelta(days=1)
    cof = approved(cbpii, holder, ExpirationDateTime=expiry.isoformat())
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    cof.token = cbpii.token(scope=SCOPE, grant_type="authorization_code",   # as refreshed
                            consent_id=cof.consent_id, psu=holder.psu)
    assert cof.available("1.00") is True
    clock.advance(timedelta(seconds=1))
    refused = cof.confirm("1.00")
    assert refused.status_code == 401 and refused.get_data() == b""
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    read = cbpii.call("GET", f"{CONSENTS}/{cof.consent_id}", token=cbpii.token(scope=SCOPE))
    assert read.status_code == 200
    data = read.get_json()["Data"]      # v3.1 has no Expired: as it was, its expiry passed
    assert data["Status"] == "Authorised"
    assert data["ExpirationDateTime"].startswith(expiry.strftime("%Y-%m-%dT%H:%M:%S"))


def test_the_cbpiis_delete_ends_confirmations_at_once(cbpii, holder, approved):
    cof = approved(cbpii, holder)
    assert cof.available("1.00") is True
    token = cbpii.token(scope=SCOPE)
    path = f"{CONSENTS}/{cof.consent_id}"
    assert cbpii.call("DELETE", path, token=token).status_code == 204
    refused = cof.confirm("1.00")
    assert refused.status_code == 401
    gone = cbpii.call("GET", path, token=token)
    assert gone.status_code == 400 and codes(gone) == ["UK.OBIE.Resource.NotFound"]
    again = cbpii.call("DELETE", path, token=token)
    assert again.status_code == 400 and codes(again) == ["UK.OBIE.Resource.NotFound"]


def test_consent_requests_are_validated(cbpii, holder, create_consent, clock):
    def refused(body) -> list[str]:
        response = create_consent(cbpii, body)
        assert response.status_code == 400, response.get_json()
        return codes(response)

    assert refused(consent_body("1234")) == ["UK.OBIE.Field.Invalid"]
    assert refused(consent_body("00000012345678")) == ["UK.OBIE.Field.Invalid"]
    assert refused(consent_body("GB00NWBK60161331926819", scheme="UK.OBIE.IBAN")) == \
        ["UK.OBIE.Field.Invalid"]
    assert refused(consent_body("5555444433332222", scheme="UK.OBIE.PAN")) == \
        ["UK.OBIE.Unsupported.Scheme"]
    assert refused(consent_body(holder.identification, ExpirationDateTime=(
        clock.now() - timedelta(minutes=1)).isoformat())) == ["UK.OBIE.Field.InvalidDate"]
    assert refused(consent_body(holder.identification, ExpirationDateTime="tomorrow")) == \
        ["UK.OBIE.Field.InvalidDate"]
    assert refused(consent_body(holder.identification, Permissions=["ReadBalances"])) == \
        ["UK.OBIE.Field.Unexpected"]
    long_name = consent_body(holder.identification)
    long_name["Data"]["DebtorAccount"]["Name"] = "x" * 351
    assert refused(long_name) == ["UK.OBIE.Field.Invalid"]
    assert refused({"Data": {}}) == ["UK.OBIE.Field.Missing"]
    iban = create_consent(cbpii, consent_body("GB29 NWBK 6016 1331 9268 19",
                                              scheme="UK.OBIE.IBAN"))
    assert iban.status_code == 201       # a valid IBAN: an account the bank may hold


def test_the_customer_approves_the_account_named_and_no_other(cbpii, holder, create_consent,
                                                              platform, clock):
    created = create_consent(cbpii, consent_body(holder.identification))
    consent_id = created.get_json()["Data"]["ConsentId"]
    with platform.uow() as uow:
        party = uow.session.get(Party, holder.psu.party_pk)
        saver = factories.account(uow, now=clock.now(), owner=party, sub_type="Savings")
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        with pytest.raises(AccountNotSelectable):
            consents.authorise(uow, consent, holder.psu, [saver.id], clock.now())
        with pytest.raises(NoAccountSelected):
            consents.authorise(uow, consent, holder.psu, [saver.id, holder.account_pk],
                               clock.now())
        record = consents.authorise(uow, consent, holder.psu, [holder.account_pk],
                                    clock.now())
        assert record.status == "Authorised" and record.account_ids == (holder.account_id,)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_signature_on_a_consent_read_or_delete_is_unexpected(cbpii, holder, create_consent,
                                                               method):
    created = create_consent(cbpii, consent_body(holder.identification))
    path = f"{CONSENTS}/{created.get_json()['Data']['ConsentId']}"
    token = cbpii.token(scope=SCOPE)
    signed = cbpii.call(method, path, token=token, headers={"x-jws-signature": "a..b"})
    assert signed.status_code == 400
    assert codes(signed) == ["UK.OBIE.Signature.Unexpected"]
    assert signed.get_json()["Errors"][0]["Path"] == "x-jws-signature"
    assert cbpii.call("GET", path, token=token).get_json()["Data"]["Status"] \
        == "AwaitingAuthorisation"          # nothing was deleted
