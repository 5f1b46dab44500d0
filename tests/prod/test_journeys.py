"""A full AIS and PIS journey on the production topology (tests/prod/conftest.py): through
nginx over real TLS, the TPP authenticated by its transport certificate (tls_client_auth) and
its tokens bound to it (RFC 8705, cnf x5t#S256), the customer approving in the bank's pages,
the payment settled by the Celery worker process; and the refusals FAPI and RFC 8705 require
when the certificate is missing, another one, or only claimed in a header."""
from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aspsp.identity import dynamic_linking
from sandbox.seed import DEMO_USERS
from tests.prod.conftest import GROUP
from tests.prod.mtls_tpp import MtlsTpp, bank_signature_verified, field_values

pytestmark = pytest.mark.xdist_group(GROUP)   # one topology for the tier (conftest.py)

ALICE = next(u for u in DEMO_USERS if u.username == "alice")
AISP = "/open-banking/v3.1/aisp"
PISP = "/open-banking/v3.1/pisp"
PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000012345678",
         "Name": "ACME Ltd"}


def x5t_s256(cert_pem: str) -> str:
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(
        serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def refused_token(response: requests.Response) -> None:
    """RFC 6750 3.1 / RFC 8705 3: 401 invalid_token, said in WWW-Authenticate."""
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers.get("WWW-Authenticate", ""), \
        response.headers


def refused_client(response: requests.Response) -> None:
    """RFC 6749 5.2: the client's authentication failed."""
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.text


def test_the_topology_serves_https_only_with_the_proxy_in_front(production):
    topology = production.topology
    assert {name: s.running for name, s in topology.services.items()} == {
        "web": True, "nginx": True, "worker": True, "beat": True}
    ready = requests.get(production.issuer + "/health/ready", verify=production.server_ca,
                         timeout=30)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": {"status": "up"}, "redis": {"status": "up"},
                                      "broker": {"status": "up"}}
    assert ready.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    http = requests.get(f"http://localhost:{topology.settings.http_port}/developers/?x=1",
                        allow_redirects=False, timeout=30)
    assert http.status_code == 301
    assert http.headers["Location"] == production.issuer + "/developers/?x=1"
    discovery = requests.get(production.issuer + "/.well-known/openid-configuration",
                             verify=production.server_ca, timeout=30).json()
    assert discovery["issuer"] == production.issuer
    assert "tls_client_auth" in discovery["token_endpoint_auth_methods_supported"]
    assert discovery["tls_client_certificate_bound_access_tokens"] is True


def test_account_information_over_mtls_with_certificate_bound_tokens(production):
    tpp = MtlsTpp(production, "Ledger Lens", ("AISP",), "https://ledger-lens.example/cb")
    tpp.enrol().register("accounts")
    assert tpp.registration["token_endpoint_auth_method"] == "tls_client_auth"
    assert tpp.registration["tls_client_auth_subject_dn"] == tpp.certificate.subject_dn
    assert tpp.registration["tls_client_certificate_bound_access_tokens"] is True
    thumbprint = x5t_s256(tpp.certificate.pem)

    cc = tpp.client_credentials("accounts")
    assert cc["token_type"] == "Bearer"
    assert tpp.introspect(cc["access_token"])["cnf"] == {"x5t#S256": thumbprint}
    permissions = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail",
                   "ReadTransactionsCredits", "ReadTransactionsDebits"]
    created = tpp.call("POST", f"{AISP}/account-access-consents", cc["access_token"],
                       body={"Data": {"Permissions": permissions}, "Risk": {}})
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]

    chosen: list[str] = []

    def pick_first_account(page: str) -> dict:
        chosen.extend(field_values(page, "account")[:1])
        assert chosen, "the consent page offers no account"
        return {"account": chosen}

    tokens = tpp.authorise(consent_id, "accounts", ALICE,
                           sca_code=lambda: pyotp.TOTP(ALICE.totp_secret).now(),
                           decide=pick_first_account)
    assert tokens["token_type"] == "Bearer" and tokens["id_token"]
    introspected = tpp.introspect(tokens["access_token"])
    assert introspected["cnf"] == {"x5t#S256": thumbprint}
    assert introspected["openbanking_intent_id"] == consent_id

    access = tokens["access_token"]
    accounts = tpp.call("GET", f"{AISP}/accounts", access)
    assert accounts.status_code == 200, accounts.text
    assert [a["AccountId"] for a in accounts.json()["Data"]["Account"]] == chosen
    account_id = chosen[0]
    balances = tpp.call("GET", f"{AISP}/accounts/{account_id}/balances", access)
    assert balances.status_code == 200, balances.text
    assert {b["AccountId"] for b in balances.json()["Data"]["Balance"]} == {account_id}
    transactions = tpp.call("GET", f"{AISP}/accounts/{account_id}/transactions", access)
    assert transactions.status_code == 200, transactions.text
    listed = transactions.json()["Data"]["Transaction"]
    assert listed and {t["AccountId"] for t in listed} == {account_id}
    assert all(t["CreditDebitIndicator"] in ("Credit", "Debit") for t in listed)
    # Links name the public https address, not gunicorn's.
    assert transactions.json()["Links"]["Self"].startswith(production.issuer + AISP)

    # A refresh over MTLS: the new access token is bound to the same certificate.
    refreshed = tpp.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert tpp.introspect(refreshed.json()["access_token"])["cnf"] == {"x5t#S256": thumbprint}
    assert tpp.call("GET", f"{AISP}/accounts", refreshed.json()["access_token"]).status_code == 200
    refused_token(tpp.call("GET", f"{AISP}/accounts", access, cert=None))


def test_domestic_payment_settled_by_the_celery_worker(production):
    tpp = MtlsTpp(production, "Pay Direct", ("PISP",), "https://pay-direct.example/cb")
    tpp.enrol().register("payments")
    cc = tpp.client_credentials("payments")["access_token"]
    initiation = {"InstructionIdentification": "PD-1", "EndToEndIdentification": "PD-E2E-1",
                  "InstructedAmount": {"Amount": "12.50", "Currency": "GBP"},
                  "CreditorAccount": PAYEE, "RemittanceInformation": {"Reference": "ORDER 7"}}
    risk = {"PaymentContextCode": "EcommerceGoods"}
    created = tpp.call("POST", f"{PISP}/domestic-payment-consents", cc, sign=True,
                       body={"Data": {"Initiation": initiation}, "Risk": risk})
    assert created.status_code == 201, created.text
    bank_signature_verified(tpp, created)
    consent_id = created.json()["Data"]["ConsentId"]

    tokens = tpp.authorise(
        consent_id, "payments", ALICE,
        sca_code=lambda: dynamic_linking.code_at(
            ALICE.totp_secret, dynamic_linking.payment_to_sign("12.50", "GBP",
                                                               PAYEE["Identification"]),
            datetime.now(timezone.utc)),
        decide=lambda page: {"debtor_account": field_values(page, "debtor_account")[0]},
        shows=("ACME Ltd", "12.50"))
    access = tokens["access_token"]

    funds = tpp.call("GET", f"{PISP}/domestic-payment-consents/{consent_id}/funds-confirmation",
                     access)
    assert funds.status_code == 200, funds.text
    assert funds.json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is True

    worker = production.topology.services["worker"]
    worker_log_before = worker.log_path.stat().st_size
    submitted = tpp.call("POST", f"{PISP}/domestic-payments", access, sign=True,
                         body={"Data": {"ConsentId": consent_id, "Initiation": initiation},
                               "Risk": risk})
    assert submitted.status_code == 201, submitted.text
    bank_signature_verified(tpp, submitted)
    payment_id = submitted.json()["Data"]["DomesticPaymentId"]

    deadline = time.monotonic() + 90
    while True:
        read = tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}", cc)
        assert read.status_code == 200, read.text
        status = read.json()["Data"]["Status"]
        if status == "AcceptedSettlementCompleted" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == "AcceptedSettlementCompleted"
    bank_signature_verified(tpp, read)
    # The worker process did it: its log shows the settlement task ending with that status.
    with open(worker.log_path, "rb") as log:
        log.seek(worker_log_before)
        settled = [line for line in log.read().decode(errors="replace").splitlines()
                   if "ledger.settle_payment[" in line and "succeeded" in line]
    assert any("AcceptedSettlementCompleted" in line for line in settled), settled

    details = tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}/payment-details", cc)
    assert [s["Status"] for s in details.json()["Data"]["PaymentStatus"]] == [
        "Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"]
    consent = tpp.call("GET", f"{PISP}/domestic-payment-consents/{consent_id}", cc)
    assert consent.json()["Data"]["Status"] == "Consumed"


def test_certificate_bound_tokens_need_their_certificate_and_a_header_proves_nothing(production):
    tpp = MtlsTpp(production, "Key Keeper", ("AISP",), "https://key-keeper.example/cb")
    tpp.enrol().register("accounts")
    second = tpp.issue_certificate("second")        # same subject, another key
    token = tpp.client_credentials("accounts")["access_token"]
    path = f"{AISP}/account-access-consents"
    body = {"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}}
    forged = {"X-SSL-Client-Cert": tpp.certificate.forwarded, "X-SSL-Client-Verify": "SUCCESS"}

    assert tpp.call("POST", path, token, body=body).status_code == 201
    # No certificate, another certificate of the same client, the right one only claimed in
    # the header nginx sets (nginx replaces it): refused.
    refused_token(tpp.call("POST", path, token, body=body, cert=None))
    refused_token(tpp.call("POST", path, token, body=body, cert=second))
    refused_token(tpp.call("POST", path, token, body=body, cert=None, headers=forged))
    # Straight to gunicorn with the header: only nginx's address (TRUSTED_PROXIES) is believed.
    direct = requests.post(production.topology.web_url + path, json=body, timeout=30,
                           headers={"Authorization": f"Bearer {token}", **forged,
                                    "x-fapi-interaction-id": "direct-1"})
    refused_token(direct)

    # The token endpoint: no certificate, or one only claimed in a header, authenticates no one.
    form = {"grant_type": "client_credentials", "scope": "accounts"}
    refused_client(tpp.token(form, cert=None))
    refused_client(tpp.send("POST", production.issuer + "/token", cert=None, headers=forged,
                            data={**form, "client_id": tpp.client_id}))
    refused_client(requests.post(production.topology.web_url + "/token", headers=forged,
                                 data={**form, "client_id": tpp.client_id}, timeout=30))
    # The second certificate names the registered subject: it authenticates the client
    # (RFC 8705 2.1), and its token is bound to it, not to the first one.
    other = tpp.token(form, cert=second)
    assert other.status_code == 200, other.text
    other_token = other.json()["access_token"]
    assert tpp.introspect(other_token)["cnf"] == {"x5t#S256": x5t_s256(second.pem)}
    assert tpp.call("POST", path, other_token, body=body, cert=second).status_code == 201
    refused_token(tpp.call("POST", path, other_token, body=body))


def test_a_certificate_of_a_ca_nginx_does_not_trust_is_refused_at_tls(production, tmp_path):
    tpp = MtlsTpp(production, "Self Made", ("AISP",), "https://self-made.example/cb")
    tpp.enrol().register("accounts")
    # The same subject, self-signed: what a TPP without a directory certificate could make.
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name.from_rfc4514_string(tpp.certificate.subject_dn)
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "self.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "self.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    response = requests.post(production.issuer + "/token", verify=production.server_ca,
                             cert=(str(tmp_path / "self.crt"), str(tmp_path / "self.key")),
                             data={"grant_type": "client_credentials", "scope": "accounts",
                                   "client_id": tpp.client_id}, timeout=30)
    # nginx (ssl_verify_client optional) answers a certificate that does not verify itself.
    assert response.status_code == 400
    assert "SSL certificate error" in response.text
    assert "access_token" not in response.text


def _ais_4xx(scrape: str) -> float:
    """aspsp_http_requests_total of AIS GETs answered 4xx, summed over gunicorn's workers."""
    from prometheus_client.parser import text_string_to_metric_families
    return sum(sample.value for family in text_string_to_metric_families(scrape)
               for sample in family.samples
               if sample.name == "aspsp_http_requests_total"
               and sample.labels == {"family": "ais", "method": "GET", "status": "4xx"})


def test_metrics_are_scraped_from_the_web_tier_and_never_served_through_nginx(production):
    topology = production.topology
    outside = requests.get(production.issuer + "/metrics", verify=production.server_ca,
                           timeout=30)
    assert outside.status_code == 404
    assert "aspsp_http_requests_total" not in outside.text

    before = requests.get(topology.web_url + "/metrics", timeout=30)
    assert before.status_code == 200, before.text
    # Calls without a token through nginx: each is refused, each is counted once whichever
    # gunicorn worker answered it (multiprocess mode sums the workers' files).
    for _ in range(6):
        refused = requests.get(production.issuer + f"{AISP}/accounts",
                               verify=production.server_ca, timeout=30)
        assert refused.status_code == 401
    after = requests.get(topology.web_url + "/metrics", timeout=30)
    assert _ais_4xx(after.text) - _ais_4xx(before.text) == 6
    # The web workers and the Celery worker write their figures beside each other.
    assert any((topology.settings.run_dir / "prometheus").glob("*.db"))
