"""What the bank itself does to consents and accounts, told to TPPs: an operator revokes one
consent, or every consent of a TPP whose registration was deleted or suspended
(`flask consents revoke`, `revoke-client`: consent-authorization-revoked with the bank's reason
code, tokens revoked at once), and an account closes or is switched away
(`flask ledger close-account`: account-access-consent-linked-account-update for each
authorised account-access consent that covered it). Each event is written in the transaction
of the change and arrives, signed, at the TPP's real receiver."""
from __future__ import annotations

from aspsp.events import BANK_REVOCATION_REASONS
from tests.integration.events.test_delivery import verified_claims
from tests.integration.consent.conftest import consent_in_db  # noqa: F401  (fixture)
from tests.integration.pis.conftest import (  # noqa: F401  (fixtures used here)
    approve, create_consent, make_payer, payer)
from tests.integration.pis.conftest import domestic_consent_body

CAR = "urn:uk:org:openbanking:events:consent-authorization-revoked"
LAU = "urn:uk:org:openbanking:events:account-access-consent-linked-account-update"
RU = "urn:uk:org:openbanking:events:resource-update"
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
ACCOUNTS = "/open-banking/v3.1/aisp/accounts"


def flask(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result


def subject(app, consent_id: str) -> dict:
    link = f"{app.config['ISSUER'].rstrip('/')}{CONSENTS}/{consent_id}"
    return {"subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty",
            "http://openbanking.org.uk/rid": consent_id,
            "http://openbanking.org.uk/rty": "account-access-consent",
            "http://openbanking.org.uk/rlk": [{"version": "v3.1", "link": link}]}


def authorised(tpp, customer, decide, **data) -> tuple[str, str]:
    consent_id = tpp.create_consent(token=tpp.token(), **data)
    decide(consent_id, customer)
    token = tpp.token(grant_type="authorization_code", consent_id=consent_id,
                      psu=customer.psu)
    assert tpp.call("GET", ACCOUNTS, token=token).status_code == 200
    return consent_id, token


# --- the bank revokes ------------------------------------------------------------------------
def test_an_operator_revoking_a_consent_stops_it_and_tells_its_tpp_why(
        app, tpp, customer, decide, receiver, consent_in_db):
    tpp.subscribe(receiver.url)
    consent_id, token = authorised(tpp, customer, decide)

    result = flask(app, "consents", "revoke", consent_id, "--reason", "fraud",
                   "--operator", "ops-7")
    assert result.exit_code == 0, result.output
    assert f"{consent_id} Revoked" in result.output

    assert tpp.call("GET", ACCOUNTS, token=token).status_code == 401    # its token is dead
    read = tpp.call("GET", f"{CONSENTS}/{consent_id}", token=tpp.token())
    assert read.get_json()["Data"]["Status"] == "Revoked"
    last = consent_in_db(consent_id).events[-1]
    assert (last.from_status, last.to_status, last.actor, last.actor_id) == \
        ("Authorised", "Revoked", "system", "ops-7")
    [token_sent] = receiver.tokens()
    claims = verified_claims(tpp.http, token_sent)
    assert claims["aud"] == tpp.client_id
    assert claims["events"] == {
        CAR: {"reason": "UK.InvisibleBank.SuspectedFraud"},
        RU: {"subject": subject(app, consent_id)}}


def test_revoking_a_consent_already_final_or_unknown_fails_and_raises_nothing(
        app, tpp, customer, decide, receiver, outbox):
    tpp.subscribe(receiver.url)
    consent_id, _ = authorised(tpp, customer, decide)
    assert tpp.call("DELETE", f"{CONSENTS}/{consent_id}", token=tpp.token()).status_code == 204
    again = flask(app, "consents", "revoke", consent_id, "--reason", "bank-decision")
    assert again.exit_code == 1 and "final status" in again.output
    unknown = flask(app, "consents", "revoke", "aac-nope", "--reason", "bank-decision")
    assert unknown.exit_code == 1 and "no such consent" in unknown.output
    bad_reason = flask(app, "consents", "revoke", consent_id, "--reason", "because")
    assert bad_reason.exit_code == 2
    assert outbox() == [] and receiver.received == []


def test_revoking_a_tpps_consents_stops_every_one_in_force_and_only_those(
        app, make_events_tpp, customer, decide, receiver, make_receiver, consent_in_db,
        create_consent):
    tpp = make_events_tpp(name="Suspended TPP")
    bystander = make_events_tpp(name="Still fine")
    tpp.subscribe(receiver.url)
    theirs = make_receiver()
    bystander.subscribe(theirs.url)
    first, first_token = authorised(tpp, customer, decide)
    second, _ = authorised(tpp, customer, decide)
    awaiting = tpp.create_consent(token=tpp.token())
    deleted, _ = authorised(tpp, customer, decide)
    tpp.call("DELETE", f"{CONSENTS}/{deleted}", token=tpp.token())
    payment_consent = create_consent(tpp, domestic_consent_body("5.00")).get_json()[
        "Data"]["ConsentId"]
    other, other_token = authorised(bystander, customer, decide)

    result = flask(app, "consents", "revoke-client", tpp.client_id,
                   "--reason", "tpp-unauthorised")
    assert result.exit_code == 0, result.output
    assert f"4 consents of {tpp.client_id} revoked" in result.output
    assert consent_in_db(first).recorded_status == "Revoked"
    assert consent_in_db(second).recorded_status == "Revoked"
    assert consent_in_db(awaiting).recorded_status == "Rejected"     # never authorised
    assert consent_in_db(payment_consent).recorded_status == "Rejected"
    assert tpp.call("GET", ACCOUNTS, token=first_token).status_code == 401

    told = sorted(verified_claims(tpp.http, t)["events"][RU]["subject"]
                  ["http://openbanking.org.uk/rid"] for t in receiver.tokens())
    assert told == sorted([first, second])       # the authorised ones; none for the others
    for t in receiver.tokens():
        assert verified_claims(tpp.http, t)["events"][CAR] == {
            "reason": BANK_REVOCATION_REASONS["tpp-unauthorised"]}
    assert consent_in_db(other).recorded_status == "Authorised"      # another TPP's
    assert bystander.call("GET", ACCOUNTS, token=other_token).status_code == 200
    assert theirs.received == []


def test_an_authorised_payment_consent_the_bank_stops_is_rejected_and_its_tpp_told(
        app, make_events_tpp, payer, approve, create_consent, receiver, consent_in_db):
    pisp = make_events_tpp(roles=("PISP",), name="Pay Quick")
    pisp.subscribe(receiver.url, scope="payments")
    consent_id = create_consent(pisp, domestic_consent_body("7.00")).get_json()[
        "Data"]["ConsentId"]
    approve(consent_id, payer)
    result = flask(app, "consents", "revoke", consent_id, "--reason", "bank-decision")
    assert result.exit_code == 0, result.output
    assert consent_in_db(consent_id).recorded_status == "Rejected"  # no Revoked for payments
    read = pisp.call("GET", f"/open-banking/v3.1/pisp/domestic-payment-consents/{consent_id}",
                     token=pisp.token(scope="payments"))
    assert read.get_json()["Data"]["Status"] == "Rejected"
    [sent] = receiver.tokens()
    events = verified_claims(pisp.http, sent)["events"]
    assert events[CAR] == {"reason": "UK.InvisibleBank.RevokedByBank"}
    assert events[RU]["subject"]["http://openbanking.org.uk/rty"] == \
        "domestic-payment-consent"


# --- an account leaves the consents that covered it --------------------------------------------
def test_a_closed_account_tells_each_tpp_whose_consent_covered_it(
        app, make_events_tpp, make_customer, decide, make_receiver, consent_in_db):
    customer = make_customer(accounts=2)
    closed, kept = customer.account_ids
    first, second = make_events_tpp(name="First"), make_events_tpp(name="Second")
    first_rx, second_rx = make_receiver(), make_receiver()
    first.subscribe(first_rx.url)
    second.subscribe(second_rx.url)
    both, both_token = authorised(first, customer, decide)
    only_kept = second.create_consent(token=second.token())
    decide(only_kept, customer, accounts=[customer.account_pks[1]])

    result = flask(app, "ledger", "close-account", closed)
    assert result.exit_code == 0, result.output

    [sent] = first_rx.tokens()
    claims = verified_claims(first.http, sent)
    link = f"{app.config['ISSUER'].rstrip('/')}{CONSENTS}/{both}"
    assert claims["sub"] == link and claims["aud"] == first.client_id
    assert claims["events"] == {LAU: {"subject": subject(app, both),
                                      "reason": "UK.OBIE.AccountClosure"}}
    assert second_rx.received == []              # its consent never covered that account
    # the consent stays authorised for the account still open; the closed one is gone
    assert consent_in_db(both).recorded_status == "Authorised"
    listed = first.call("GET", ACCOUNTS, token=both_token).get_json()["Data"]["Account"]
    assert [a["AccountId"] for a in listed] == [kept]


def test_an_account_switched_away_gives_the_cass_reason_and_unsubscribed_tpps_nothing(
        app, make_events_tpp, customer, decide, receiver, outbox):
    subscribed = make_events_tpp(name="Listens")
    silent = make_events_tpp(name="Never subscribed")
    subscribed.subscribe(receiver.url)
    authorised(subscribed, customer, decide)
    authorised(silent, customer, decide)
    result = flask(app, "ledger", "close-account", customer.account_ids[0], "--status",
                   "Deleted", "--reason", "cass")
    assert result.exit_code == 0, result.output
    [sent] = receiver.tokens()
    assert verified_claims(subscribed.http, sent)["events"][LAU]["reason"] == "UK.OBIE.CASS"
    assert len(outbox()) == 1


def test_closing_an_unknown_account_changes_nothing(app, receiver, outbox):
    result = flask(app, "ledger", "close-account", "no-such-account")
    assert result.exit_code == 1 and "no account" in result.output
    assert outbox() == []


def test_an_account_disabled_by_any_path_tells_the_tpp_once(
        app, platform, clock, make_events_tpp, customer, decide, receiver, outbox):
    """Not only the operator's command: ledger.set_account_status itself raises the event,
    so the sandbox, a scheme or a test that disables an account tells the TPP too; an account
    already out of service (then deleted) raises nothing more."""
    from aspsp.ledger import services as ledger
    tpp = make_events_tpp(name="Watches accounts")
    tpp.subscribe(receiver.url)
    consent_id, _ = authorised(tpp, customer, decide)
    with app.app_context(), platform.uow() as uow:
        ledger.set_account_status(uow, customer.account_ids[0], "Disabled", now=clock.now())
        uow.commit()
    [sent] = receiver.tokens()
    claims = verified_claims(tpp.http, sent)
    assert claims["events"] == {LAU: {"subject": subject(app, consent_id),
                                      "reason": "UK.OBIE.AccountClosure"}}
    with app.app_context(), platform.uow() as uow:
        ledger.set_account_status(uow, customer.account_ids[0], "Deleted", now=clock.now())
        uow.commit()
    assert len(receiver.received) == 1 and len(outbox()) == 1
