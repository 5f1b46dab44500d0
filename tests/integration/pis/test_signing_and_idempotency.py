"""Every PIS POST is signed (x-jws-signature, verified against the TPP's registered key) and
idempotent (x-idempotency-key); every response is signed by the bank. The conventions are
aspsp.ob_signing and aspsp.idempotency; these tests show the PIS resources use them: the FCS
signature scripts, a body changed by one byte, a repeat replayed, another body refused, and
20 concurrent submissions with one key making one payment (PostgreSQL, own database)."""
from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from aspsp import ob_signing
from aspsp.db import Database, make_engine
from aspsp.ledger.models import Payment
from aspsp.pis.models import PaymentOrder
from bank import create_app
from consent.models import Consent
from tests.conftest import (TEST_ISSUER, UNLIMITED_RATES, create_pg_database, drop_pg_database,
                            service_missing)
from tests.integration.pis.conftest import (CONSENTS, PAYMENTS, TAN, codes,
                                            domestic_consent_body, idem, payment_body)

RACERS = 20
HANG_GUARD = 120


def consents(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Consent))


def post_raw(tpp, path: str, body: bytes, headers: dict, token: str | None = None):
    return tpp.call("POST", path, token=token or tpp.token(scope="payments"), data=body,
                    content_type="application/json", headers=headers)


def test_a_consent_without_a_signature_is_refused(pisp, platform):
    """FCS OB-316-DOP-100310."""
    before = consents(platform)
    response = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"),
                         json=domestic_consent_body(), headers=idem(), sign=False)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Signature.Missing"]
    assert consents(platform) == before


def test_a_signature_without_its_iss_claim_is_refused(pisp):
    """FCS OB-301-DOP-100110 (removeSignatureClaims iss)."""
    body = json.dumps(domestic_consent_body()).encode()
    key = pisp.client.signing_key
    header = {"alg": "ES256", "kid": key.get("kid"),
              ob_signing.OB_IAT: int(pisp.clock.now().timestamp()), ob_signing.OB_TAN: TAN,
              "crit": [ob_signing.OB_IAT, ob_signing.OB_TAN]}
    from jwcrypto import jws
    from jwcrypto.common import json_encode
    token = jws.JWS(body, header_registry=ob_signing.HEADER_REGISTRY)   # the OB claims
    token.add_signature(key, alg="ES256", protected=json_encode(header))
    protected, _, signature = token.serialize(compact=True).split(".")
    response = post_raw(pisp, CONSENTS, body, {**idem(),
                                               "x-jws-signature": f"{protected}..{signature}"})
    assert response.status_code == 400
    assert codes(response)[0] in {"UK.OBIE.Signature.InvalidClaim",
                                  "UK.OBIE.Signature.MissingClaim",
                                  "UK.OBIE.Signature.Malformed"}


def test_a_body_changed_by_one_byte_is_refused(pisp, payer, journey, platform):
    j = journey(pisp, payer)
    body = json.dumps(payment_body(j.consent_id, j.body)).encode()
    signature = pisp.signature(body)
    changed = body.replace(b'"10.50"', b'"10.51"')
    response = post_raw(pisp, PAYMENTS, changed, {**idem(), "x-jws-signature": signature},
                        token=j.token)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Signature.Invalid"]
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 0


def test_a_signature_by_another_tpps_key_is_refused(pisp, other_pisp, payer, journey):
    j = journey(pisp, payer)
    body = json.dumps(payment_body(j.consent_id, j.body)).encode()
    response = post_raw(pisp, PAYMENTS, body,
                        {**idem(), "x-jws-signature": other_pisp.signature(body)},
                        token=j.token)
    assert response.status_code == 400
    assert codes(response)[0].startswith("UK.OBIE.Signature.")


def test_every_response_is_signed_by_the_bank(pisp, payer, journey, client, platform):
    jwks = client.get("/jwks").get_json()
    j = journey(pisp, payer)
    submitted = j.submit()
    payment_id = submitted.get_json()["Data"]["DomesticPaymentId"]
    read = pisp.call("GET", f"{PAYMENTS}/{payment_id}", token=pisp.token(scope="payments"))
    refused = pisp.call("GET", f"{PAYMENTS}/unknown", token=pisp.token(scope="payments"))
    iss, tan = ob_signing.bank_identity(platform.config)
    for response in (submitted, read, refused):
        header = ob_signing.verify_detached(
            response.headers["x-jws-signature"], response.get_data(), jwks,
            ob_signing.Expected(iss=iss, tans=frozenset({tan})), now=platform.clock.now())
        assert header["alg"] == "PS256"


def test_a_repeated_consent_post_gets_the_first_response_and_no_second_consent(pisp,
                                                                               platform):
    body = domestic_consent_body()
    headers = idem()
    first = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), json=body,
                      headers=headers)
    count = consents(platform)
    again = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), json=body,
                      headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_data() == first.get_data()
    assert consents(platform) == count
    other = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"),
                      json=domestic_consent_body("11.00"), headers=headers)
    assert other.status_code == 400
    assert codes(other) == ["UK.OBIE.Header.Invalid"]


def test_a_repeated_payment_post_replays_instead_of_refusing(pisp, payer, journey, platform):
    j = journey(pisp, payer)
    headers = idem()
    first = j.submit(headers=headers)
    again = j.submit(headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json()["Data"]["DomesticPaymentId"] == \
        first.get_json()["Data"]["DomesticPaymentId"]
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 1


# --- the race, on PostgreSQL with real commits -----------------------------------------------
@pytest.fixture(scope="module")
def own_database():
    try:
        url = create_pg_database("aspsp_pis_idem")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    engine = make_engine(url, pool_size=RACERS + 10, max_overflow=0)
    yield Database(url, engine=engine)
    engine.dispose()
    drop_pg_database(url)


@pytest.fixture
def race_app(own_database, clock, tmp_path):
    return create_app({"DATABASE_URL": own_database.url, "DATABASE": own_database,
                       "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                       "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                       "TESTING": True, "ISSUER": TEST_ISSUER, "REDIS_URL": None,
                       **UNLIMITED_RATES})


@pytest.fixture
def race_platform(race_app):
    return race_app.extensions["aspsp"]


def test_twenty_concurrent_retries_with_one_key_make_one_payment(race_app, race_platform,
                                                                 clock):
    from tests.integration.pis.conftest import Journey, SigningTpp
    from tests.oauth_factories import make_client
    from tests import factories
    from consent import services as consent_services
    from aspsp.identity.models import PsuUser
    from aspsp.ids import new_id

    now = clock.now()
    with race_platform.uow() as uow:
        tpp_client = make_client(uow, now=now, roles=("PISP",))
        party = factories.party(uow, "Race Payer", now=now)
        account = factories.account(uow, now=now, owner=party, funded="100.00")
        psu = PsuUser(psu_id=new_id(), username=f"race-{new_id()[:8]}",
                      password_hash="x", totp_secret="JBSWY3DPEHPK3PXP", party_pk=party.id,
                      failed_attempts=0, created_at=now)
        uow.session.add(psu)
        uow.commit()
    tpp = SigningTpp(race_app.test_client(), race_platform, clock, tpp_client)
    body = domestic_consent_body("25.00")
    created = tpp.call("POST", CONSENTS, token=tpp.token(scope="payments"), json=body,
                       headers=idem())
    consent_id = created.get_json()["Data"]["ConsentId"]
    with race_platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        consent_services.authorise(uow, consent, psu, [account.id], clock.now())
        uow.commit()
    token = tpp.token(scope="payments", grant_type="authorization_code",
                      consent_id=consent_id, psu=psu)
    j = Journey(tpp, None, consent_id, body, token)
    headers = idem()
    barrier = threading.Barrier(RACERS, timeout=HANG_GUARD)

    def submit(_):
        racer = dataclasses.replace(j, tpp=dataclasses.replace(tpp, http=race_app.test_client()))
        barrier.wait()
        return racer.submit(headers=headers)

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(submit, range(RACERS), timeout=HANG_GUARD))
    assert [r.status_code for r in responses] == [201] * RACERS, \
        [r.get_json() for r in responses if r.status_code != 201]
    assert len({r.get_json()["Data"]["DomesticPaymentId"] for r in responses}) == 1
    with race_platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 1
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == 1
