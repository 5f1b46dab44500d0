"""POST /funds-confirmations: the yes or no for an amount against the account's available
balance and arranged overdraft, to the penny; the refusals (wrong currency, bad amounts,
another TPP's or another type's consent, a disabled account, a Reference used twice) with
their OB codes; and what is kept: the answer, never the balance."""
from __future__ import annotations

from sqlalchemy import select

from aspsp.cof.models import FundsConfirmation
from aspsp.ledger import services as ledger
from aspsp.ledger.domain import AccountStatus
from tests import factories
from tests.integration.cof.conftest import (CONFIRMATIONS, CONSENTS, SCOPE,
                                            confirmation_body)


def codes(response) -> list[str]:
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]


def test_exactly_the_available_amount_is_available_a_penny_more_is_not(
        cbpii, make_holder, approved, platform, clock):
    cof = approved(cbpii, make_holder(funded="100.00"))
    assert cof.available("100.00") is True
    assert cof.available("100.01") is False
    assert cof.available("0.01") is True
    with platform.uow() as uow:      # money paid in counts at once
        factories.fund(uow, cof.holder.account_id, "25.00", now=clock.now())
        uow.commit()
    assert cof.available("125.00") is True and cof.available("125.01") is False


def test_the_arranged_overdraft_counts_to_the_penny_and_an_overdrawn_account_too(
        cbpii, make_holder, approved, platform, clock):
    cof = approved(cbpii, make_holder(funded="100.00", credit_limit="500.00"))
    assert cof.available("600.00") is True
    assert cof.available("600.01") is False
    overdrawn = approved(cbpii, make_holder(funded=None, credit_limit="1500.00"))
    with platform.uow() as uow:      # 1,200 spent from nothing: 300 of the limit left
        capital = ledger.internal_account_id(uow, ledger.BANK_CAPITAL, "GBP")
        ledger.post_entry(uow, ledger.transfer_lines(
            overdrawn.holder.account_id, capital, ledger.Money.of("1200.00", "GBP")),
            kind="funding", now=clock.now())
        uow.commit()
    assert overdrawn.available("300.00") is True
    assert overdrawn.available("300.01") is False


def test_the_answer_is_kept_and_never_carries_the_balance(cbpii, make_holder, approved,
                                                           platform):
    cof = approved(cbpii, make_holder(funded="42.17"))
    response = cof.confirm("50.00", reference="card-auth-0001")
    assert response.status_code == 201
    body = response.get_json()
    data = body["Data"]
    assert set(data) == {"FundsConfirmationId", "ConsentId", "CreationDateTime",
                         "FundsAvailable", "Reference", "InstructedAmount"}
    assert data["FundsAvailable"] is False and data["Reference"] == "card-auth-0001"
    assert data["InstructedAmount"] == {"Amount": "50.00", "Currency": "GBP"}
    assert "42.17" not in response.get_data(as_text=True)
    with platform.uow() as uow:
        row = uow.session.scalars(select(FundsConfirmation).where(
            FundsConfirmation.funds_confirmation_id == data["FundsConfirmationId"])).one()
        assert (row.funds_available, row.amount, row.currency, row.reference) == \
            (False, "50.00", "GBP", "card-auth-0001")
    # The same Reference again under this consent: UK.OBIE.Rules.DuplicateReference.
    again = cof.confirm("1.00", reference="card-auth-0001")
    assert again.status_code == 400 and codes(again) == ["UK.OBIE.Rules.DuplicateReference"]


def test_wrong_currency_and_bad_amounts_are_400_with_their_codes(cbpii, holder, approved):
    cof = approved(cbpii, holder)
    euro = cof.confirm("10.00", "EUR")
    assert euro.status_code == 400 and codes(euro) == ["UK.OBIE.Unsupported.Currency"]
    assert euro.get_json()["Errors"][0]["Path"] == "Data.InstructedAmount.Currency"
    not_iso = cof.confirm("10.00", "ABC")
    assert not_iso.status_code == 400 and codes(not_iso) == ["UK.OBIE.Field.Invalid"]
    for amount in ("10.001", "0", "0.00", "-1.00", "1e3", "ten", "12345678901234"):
        refused = cof.confirm(amount)
        assert refused.status_code == 400, amount
        assert codes(refused) == ["UK.OBIE.Field.Invalid"], amount
        assert refused.get_json()["Errors"][0]["Path"] == "Data.InstructedAmount.Amount"
    missing = cbpii.call("POST", CONFIRMATIONS, token=cof.token,
                         json={"Data": {"ConsentId": cof.consent_id,
                                        "InstructedAmount": {"Amount": "1.00",
                                                             "Currency": "GBP"}}})
    assert missing.status_code == 400 and codes(missing) == ["UK.OBIE.Field.Missing"]


def test_another_tpps_consent_and_another_type_of_consent_are_refused(
        cbpii, make_tpp, holder, approved):
    cof = approved(cbpii, holder)
    other = make_tpp(roles=("CBPII",), name="Other Issuer")
    theirs = approved(other, holder)
    # The token of one consent naming the other's ConsentId.
    crossed = cbpii.call("POST", CONFIRMATIONS, token=cof.token,
                         json=confirmation_body(theirs.consent_id, "1.00"))
    assert crossed.status_code == 400 and codes(crossed) == ["UK.OBIE.Resource.ConsentMismatch"]
    # Another TPP's token (its own consent) asked with this TPP's key: refused as the
    # other client's token; and this TPP cannot read the other's consent.
    token = cbpii.token(scope=SCOPE)
    hidden = cbpii.call("GET", f"{CONSENTS}/{theirs.consent_id}", token=token)
    assert hidden.status_code == 403 and codes(hidden) == ["UK.InvisibleBank.Resource.OfAnotherClient"]
    # An account-access consent's id is no funds-confirmation consent, and its token does
    # not reach this API.
    aisp = make_tpp(roles=("AISP", "CBPII"), name="Both")
    ais_consent = aisp.create_consent(token=aisp.token())
    not_cof = aisp.call("GET", f"{CONSENTS}/{ais_consent}", token=aisp.token(scope=SCOPE))
    assert not_cof.status_code == 400 and codes(not_cof) == ["UK.OBIE.Resource.NotFound"]
    ais_token = aisp.token(scope=SCOPE, grant_type="authorization_code",
                           consent_id=ais_consent, psu=holder.psu)
    typed = aisp.call("POST", CONFIRMATIONS, token=ais_token,
                      json=confirmation_body(ais_consent, "1.00"))
    assert typed.status_code == 403 and codes(typed) == ["UK.OBIE.Resource.ConsentMismatch"]
    # A client without the CBPII role, and a client-credentials token, get nothing.
    aisp_only = make_tpp(roles=("AISP",), name="Reader")
    no_role = aisp_only.call("POST", CONSENTS, token=aisp_only.token(scope=SCOPE),
                             json={"Data": {}})
    assert no_role.status_code == 403 and codes(no_role) == ["UK.InvisibleBank.Client.RoleMissing"]
    ccg = cbpii.call("POST", CONFIRMATIONS, token=token,
                     json=confirmation_body(cof.consent_id, "1.00"))
    assert ccg.status_code == 401


def test_a_disabled_account_answers_nothing(cbpii, holder, approved, platform, clock):
    cof = approved(cbpii, holder)
    assert cof.available("1.00") is True
    with platform.uow() as uow:
        ledger.set_account_status(uow, holder.account_id, AccountStatus.DISABLED,
                                  now=clock.now())
        uow.commit()
    refused = cof.confirm("1.00")
    assert refused.status_code == 403
    assert codes(refused) == ["UK.InvisibleBank.Account.NotEnabled"]
