"""What the fault tests (tests/prod/test_faults.py) drive through nginx and check afterwards:
authorised payment consents made ahead of a fault, payments submitted with an idempotency key
of their own (so that a TPP's retry after a failure is the same request), AIS readers in
threads that record every answer and how long it took, a webhook receiver process that keeps
every event it is sent, and the database's view of every payment (one order, one scheme
submission, one settlement entry).
"""
from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import requests

from aspsp import ob_signing
from aspsp.identity import dynamic_linking
from deploy.prod_local import free_port
from sandbox.seed import DEMO_USERS
from tests.prod.mtls_tpp import MtlsTpp, field_values

ALICE = next(u for u in DEMO_USERS if u.username == "alice")
AISP = "/open-banking/v3.1/aisp"
PISP = "/open-banking/v3.1/pisp"
PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000087654321",
         "Name": "Fault Tolerant Ltd"}
RISK = {"PaymentContextCode": "EcommerceGoods"}
COMPLETED = "AcceptedSettlementCompleted"


# --- payments ---------------------------------------------------------------------------------
@dataclass
class Payment:
    """An authorised domestic-payment consent and its one submission (idempotency key fixed)."""
    consent_id: str
    access_token: str
    initiation: dict
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    answers: list = field(default_factory=list)      # (status, body, seconds) of each submit
    payment_id: str | None = None


def payment_tpp(production, name: str) -> MtlsTpp:
    tpp = MtlsTpp(production, name, ("PISP",), f"https://{name.lower().replace(' ', '-')}"
                  ".example/cb")
    return tpp.enrol().register("payments")


def authorised_payment(tpp: MtlsTpp, cc_token: str, amount: str, label: str) -> Payment:
    """A domestic-payment consent created and approved by Alice (login, dynamic-linking SCA)."""
    initiation = {"InstructionIdentification": label[:35], "EndToEndIdentification": label[:35],
                  "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
                  "CreditorAccount": PAYEE, "RemittanceInformation": {"Reference": label[:18]}}
    created = tpp.call("POST", f"{PISP}/domestic-payment-consents", cc_token, sign=True,
                       body={"Data": {"Initiation": initiation}, "Risk": RISK})
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    tokens = tpp.authorise(
        consent_id, "payments", ALICE,
        sca_code=lambda: dynamic_linking.code_at(
            ALICE.totp_secret, dynamic_linking.payment_to_sign(amount, "GBP",
                                                               PAYEE["Identification"]),
            datetime.now(timezone.utc)),
        decide=lambda page: {"debtor_account": field_values(page, "debtor_account")[0]})
    return Payment(consent_id, tokens["access_token"], initiation)


def submit(tpp: MtlsTpp, payment: Payment, *, timeout: float = 30) -> requests.Response | None:
    """POST domestic-payments, signed, with the payment's own idempotency key (a retry is the
    same request). Records the answer; None when no answer came (a connection error or the
    client's timeout: the test decides whether that is allowed)."""
    body = json.dumps({"Data": {"ConsentId": payment.consent_id,
                                "Initiation": payment.initiation}, "Risk": RISK}).encode()
    headers = {"Authorization": f"Bearer {payment.access_token}",
               "x-fapi-interaction-id": str(uuid.uuid4()), "Content-Type": "application/json",
               "x-idempotency-key": payment.idempotency_key,
               "x-jws-signature": ob_signing.sign_detached(
                   body, tpp.software_key, kid=tpp.software_key.get("kid"), alg="ES256",
                   iss=f"{tpp.org_id}/{tpp.software_id}", tan=urlsplit(tpp.issuer).hostname,
                   now=datetime.now(timezone.utc))}
    started = time.monotonic()
    try:
        response = requests.post(tpp.issuer + f"{PISP}/domestic-payments", data=body,
                                 headers=headers, verify=tpp.production.server_ca,
                                 cert=tpp.certificate.pair, timeout=timeout)
    except requests.RequestException as error:
        payment.answers.append((None, f"{type(error).__name__}: {error}",
                                time.monotonic() - started))
        return None
    payment.answers.append((response.status_code, response.text, time.monotonic() - started))
    if response.status_code == 201:
        payment.payment_id = response.json()["Data"]["DomesticPaymentId"]
    return response


def submit_until_created(tpp: MtlsTpp, payment: Payment, *, within: float = 60) -> str:
    """What a TPP does after a failed submission: the same request again (same idempotency
    key) until the bank answers 201; the DomesticPaymentId."""
    deadline = time.monotonic() + within
    while True:
        response = submit(tpp, payment)
        if response is not None and response.status_code == 201:
            return payment.payment_id
        assert time.monotonic() < deadline, f"no 201 within {within} s: {payment.answers}"
        time.sleep(1)


def wait_settled(tpp: MtlsTpp, cc_token: str, payment_ids, *, within: float) -> dict:
    """Poll GET domestic-payments/{id} until every one is AcceptedSettlementCompleted; their
    statuses (asserted complete by the caller)."""
    deadline = time.monotonic() + within
    statuses: dict[str, str] = {}
    while True:
        for payment_id in payment_ids:
            if statuses.get(payment_id) == COMPLETED:
                continue
            try:
                read = tpp.call("GET", f"{PISP}/domestic-payments/{payment_id}", cc_token)
            except requests.RequestException as error:
                statuses[payment_id] = f"no answer: {error}"
                continue
            statuses[payment_id] = (read.json()["Data"]["Status"] if read.status_code == 200
                                    else f"HTTP {read.status_code}")
        if all(s == COMPLETED for s in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(1)


# --- AIS readers --------------------------------------------------------------------------------
@dataclass
class Answer:
    at: float            # time.monotonic() when the request was sent
    seconds: float
    status: int | None   # None: no HTTP answer (connection error, client timeout)
    body: str


class AisLoad:
    """`threads` readers calling GET accounts and balances with an account-access token over
    MTLS, one after the other, until stop(); every answer recorded."""

    def __init__(self, tpp: MtlsTpp, access_token: str, account_id: str, *, threads: int = 2,
                 timeout: float = 40):
        self.tpp, self.token, self.account_id, self.timeout = tpp, access_token, account_id, timeout
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        paths = [f"{AISP}/accounts", f"{AISP}/accounts/{self.account_id}/balances"]
        i = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = requests.get(
                    self.tpp.issuer + paths[i % 2], timeout=self.timeout,
                    verify=self.tpp.production.server_ca, cert=self.tpp.certificate.pair,
                    headers={"Authorization": f"Bearer {self.token}",
                             "x-fapi-interaction-id": str(uuid.uuid4()),
                             # the customer is present: no unattended daily limit
                             "x-fapi-customer-ip-address": "198.51.100.7"})
                answer = Answer(started, time.monotonic() - started, response.status_code,
                                response.text)
            except requests.RequestException as error:
                answer = Answer(started, time.monotonic() - started, None,
                                f"{type(error).__name__}: {error}")
            self.answers.append(answer)
            i += 1
            time.sleep(0.2)     # ~10 calls a second in all: well under the sandbox tier

    def __enter__(self) -> "AisLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)


def ob_error_codes(body: str) -> list[str]:
    """The ErrorCodes of an OB error body (an empty list: not one)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Errors"), list):
        return []
    return [str(e.get("ErrorCode")) for e in parsed["Errors"] if isinstance(e, dict)]


# --- the database's view --------------------------------------------------------------------------
def payments_of(database_url: str, consent_ids) -> dict[str, dict]:
    """Per consent: its payment orders, and for each its ledger payment, how often the simulated
    scheme received it and how many settlement entries the ledger holds for it."""
    from sqlalchemy.engine import make_url
    url = make_url(database_url)
    connection = psycopg2.connect(host=url.host, port=url.port, user=url.username,
                                  dbname=url.database, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT c.consent_id, c.status, po.payment_order_id, po.status, po.status_history,
                       p.payment_id, p.status, p.status_history,
                       (SELECT count(*) FROM simulated_scheme_submissions s
                         WHERE s.idempotency_key = p.payment_id),
                       (SELECT count(*) FROM journal_entries j
                         WHERE j.kind = 'scheme-settlement'
                           AND j.description = 'Faster Payments settlement ' || p.scheme_reference)
                  FROM consents c
                  LEFT JOIN payment_orders po ON po.consent_pk = c.id
                  LEFT JOIN payments p ON p.id = po.ledger_payment_pk
                 WHERE c.consent_id = ANY(%s)""", (list(consent_ids),))
            rows = cursor.fetchall()
    finally:
        connection.close()
    found: dict[str, dict] = {}
    for (consent_id, consent_status, order_id, order_status, order_history, payment_id,
         payment_status, payment_history, submissions, settlements) in rows:
        found.setdefault(consent_id, {"consent_status": consent_status, "orders": []})
        if order_id is not None:
            found[consent_id]["orders"].append({
                "order_id": order_id, "order_status": order_status,
                "order_history": [h.get("Status", h.get("status")) if isinstance(h, dict) else h
                                  for h in (order_history or [])],
                "payment_id": payment_id, "payment_status": payment_status,
                "payment_history": [h.get("Status", h.get("status")) if isinstance(h, dict) else h
                                    for h in (_json(payment_history) or [])],
                "scheme_submissions": submissions, "settlement_entries": settlements})
    return found


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def assert_paid_exactly_once(database_url: str, payments: list[Payment]) -> None:
    """Every consent: consumed, one order, completed once, one scheme submission, one
    settlement entry."""
    found = payments_of(database_url, [p.consent_id for p in payments])
    for payment in payments:
        row = found.get(payment.consent_id)
        assert row is not None, f"consent {payment.consent_id} is not in the database"
        assert row["consent_status"] == "Consumed", (payment.consent_id, row)
        assert len(row["orders"]) == 1, (payment.consent_id, row)
        order = row["orders"][0]
        assert order["order_id"] == payment.payment_id, (payment.payment_id, row)
        assert order["payment_status"] == COMPLETED, row
        assert order["payment_history"].count(COMPLETED) == 1, row
        assert order["scheme_submissions"] == 1, row
        assert order["settlement_entries"] == 1, row


# --- a webhook receiver of the test's ------------------------------------------------------------
RECEIVER = r'''
import base64, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, out = int(sys.argv[1]), sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        payload = body.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        with open(out, "a") as f:
            f.write(json.dumps({"jti": claims["jti"], "path": self.path}) + "\n")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


class WebhookReceiver:
    """A TPP's event receiver on 127.0.0.1: a process of its own that answers every POST with
    a 202 and appends the SET's jti to a file. stop() ends the process (the port then refuses
    connections); start() brings it back on the same port."""

    def __init__(self, work_dir: Path):
        self.port = free_port()
        self.received_file = work_dir / "received.jsonl"
        self.received_file.touch()
        self.process: subprocess.Popen | None = None
        self.log = work_dir / "receiver.log"

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/open-banking/v3.1/event-notifications"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.port),
                                             str(self.received_file)],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.listening():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the webhook receiver did not listen"
            time.sleep(0.1)

    def listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def received(self) -> list[str]:
        return [json.loads(line)["jti"] for line in self.received_file.read_text().splitlines()
                if line.strip()]


def set_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
