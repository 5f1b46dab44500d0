"""File payments end to end through the API: the consent made of a file's metadata
(AwaitingUpload), the file uploaded (signed, idempotent, checked against the metadata and
kept byte for byte), the customer's approval, the file payment, which pays every payment of
the file through the ledger, all or none (Celery runs eagerly here), its payment-details and
its report; and every refusal with its code."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from aspsp.ledger import services as ledger
from aspsp.ledger.models import Payment
from aspsp.ledger.money import Money
from aspsp.pis.models import FilePaymentItem, PaymentFile, PaymentOrder
from tests.contract import validate_response
from tests.integration.pis.conftest import OUTSIDE_PAYEE, codes, idem
from tests.integration.pis.test_contract import SPEC

PISP = "/open-banking/v3.1/pisp"
CONSENTS = f"{PISP}/file-payment-consents"
PAYMENTS = f"{PISP}/file-payments"
INSIDE = "UK.OBIE.SortCodeAccountNumber"


def instruction(n: int, amount: str, creditor=None, **extra) -> dict:
    return {"InstructionIdentification": f"PAYROLL-{n}", "EndToEndIdentification": f"E2E-{n}",
            "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
            "CreditorAccount": dict(creditor or OUTSIDE_PAYEE),
            "RemittanceInformation": {"Reference": f"SALARY {n}"}, **extra}


def payment_file(*payments: dict) -> bytes:
    return json.dumps({"Data": {"DomesticPayments": list(payments)}}).encode()


def sha(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def consent_body(content: bytes, *, count: int | None = None, total=None, **initiation):
    body = {"Data": {"Initiation": {"FileType": "UK.OBIE.PaymentInitiation.3.1",
                                    "FileHash": sha(content), "FileReference": "PAYROLL-DEC",
                                    **initiation}}}
    if count is not None:
        body["Data"]["Initiation"]["NumberOfTransactions"] = str(count)
    if total is not None:
        body["Data"]["Initiation"]["ControlSum"] = total
    return body


def create(tpp, body):
    return tpp.call("POST", CONSENTS, token=tpp.token(scope="payments"), json=body,
                    headers=idem())


def upload(tpp, consent_id: str, content: bytes, *, headers=None, sign: bool = True):
    headers = {**idem(), **(headers or {})}
    if sign:
        headers.setdefault("x-jws-signature", tpp.signature(content))
    return tpp.call("POST", f"{CONSENTS}/{consent_id}/file", token=tpp.token(scope="payments"),
                    data=content, content_type="application/json", headers=headers)


def read(tpp, path: str):
    return tpp.call("GET", path, token=tpp.token(scope="payments"))


def balances(platform, clock, account_id: str) -> dict:
    with platform.uow() as uow:
        return {b.type: b.amount for b in ledger.balances(uow, account_id, now=clock.now())}


@pytest.fixture
def staged(pisp):
    """A consent whose file is uploaded: (consent id, its body, the file)."""
    def run(*payments: dict, **metadata):
        content = payment_file(*payments)
        body = consent_body(content, **metadata)
        response = create(pisp, body)
        assert response.status_code == 201, response.get_json()
        consent_id = response.get_json()["Data"]["ConsentId"]
        uploaded = upload(pisp, consent_id, content)
        assert uploaded.status_code == 200, uploaded.get_json()
        return consent_id, body, content
    return run


@pytest.fixture
def file_journey(pisp, staged, approve):
    """A file consent uploaded and approved by `customer`, and the customer's token."""
    def run(customer, *payments, **metadata):
        consent_id, body, content = staged(*payments, **metadata)
        approve(consent_id, customer)
        token = pisp.token(scope="payments", grant_type="authorization_code",
                           consent_id=consent_id, psu=customer.psu)
        return consent_id, body, content, token
    return run


def submit(tpp, consent_id: str, body: dict, token: str, **headers):
    return tpp.call("POST", PAYMENTS, token=token, json={"Data": {
        "ConsentId": consent_id, "Initiation": copy.deepcopy(body["Data"]["Initiation"])}},
        headers={**idem(), **headers})


def test_a_file_pays_every_payee_and_reports_each_payment(pisp, payer, make_payer,
                                                          file_journey, platform, clock):
    colleague = make_payer(None)
    inside = {"SchemeName": INSIDE, "Identification": colleague.sort_codes[0],
              "Name": "Sam Colleague"}
    consent_id, body, content, token = file_journey(
        payer, instruction(1, "10.00"), instruction(2, "15.50", inside),
        instruction(3, "4.25"), count=3, total=29.75)

    consent = read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]
    assert consent["Status"] == "Authorised"
    assert consent["Initiation"] == body["Data"]["Initiation"]
    back = read(pisp, f"{CONSENTS}/{consent_id}/file")
    assert back.status_code == 200 and back.get_data() == content
    assert back.headers["x-jws-signature"].count(".") == 2

    response = submit(pisp, consent_id, body, token)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["Data"]
    assert data["Status"] == "InitiationPending"
    assert data["ConsentId"] == consent_id
    assert data["Debtor"]["Identification"] == payer.sort_codes[0]
    payment_id = data["FilePaymentId"]

    now = read(pisp, f"{PAYMENTS}/{payment_id}").get_json()["Data"]
    assert now["Status"] == "InitiationCompleted"
    assert balances(platform, clock, payer.account_ids[0])["InterimBooked"] == \
        Money.of("70.25", "GBP")
    assert balances(platform, clock, colleague.account_ids[0])["InterimBooked"] == \
        Money.of("15.50", "GBP")
    assert read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]["Status"] == "Consumed"

    report = read(pisp, f"{PAYMENTS}/{payment_id}/report-file")
    assert report.status_code == 200
    lines = report.get_json()["Data"]["Payments"]
    assert [(p["InstructionIdentification"], p["Status"]) for p in lines] == [
        ("PAYROLL-1", "AcceptedSettlementCompleted"), ("PAYROLL-2", "AcceptedSettlementCompleted"),
        ("PAYROLL-3", "AcceptedSettlementCompleted")]
    assert len({p["PaymentTransactionId"] for p in lines}) == 3

    details = read(pisp, f"{PAYMENTS}/{payment_id}/payment-details").get_json()["Data"]
    statuses = [(s["PaymentTransactionId"], s["Status"]) for s in details["PaymentStatus"]]
    assert statuses[:2] == [(payment_id, "Pending"), (payment_id, "Accepted")]
    for line in lines:
        assert (line["PaymentTransactionId"], "AcceptedSettlementCompleted") in statuses
    with platform.uow() as uow:
        assert ledger.reconcile_balances(uow) == []


def test_a_file_the_account_cannot_pay_in_full_pays_nothing(pisp, make_payer, file_journey,
                                                            platform, clock):
    customer = make_payer("50.00")
    consent_id, body, _, token = file_journey(
        customer, instruction(1, "30.00"), instruction(2, "30.00"))
    response = submit(pisp, consent_id, body, token)
    assert response.status_code == 201
    payment_id = response.get_json()["Data"]["FilePaymentId"]
    data = read(pisp, f"{PAYMENTS}/{payment_id}").get_json()["Data"]
    assert data["Status"] == "InitiationFailed"
    assert balances(platform, clock, customer.account_ids[0])["InterimBooked"] == \
        Money.of("50.00", "GBP")
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(FilePaymentItem)) == 0
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == 0
    details = read(pisp, f"{PAYMENTS}/{payment_id}/payment-details").get_json()["Data"]
    failed = details["PaymentStatus"][-1]
    assert failed["Status"] == "Rejected"
    assert "payment 2 of 2" in failed["StatusDetail"]["StatusReasonDescription"]
    assert "Insufficient funds" in failed["StatusDetail"]["StatusReasonDescription"]
    report = read(pisp, f"{PAYMENTS}/{payment_id}/report-file").get_json()["Data"]
    assert [p["Status"] for p in report["Payments"]] == ["InitiationFailed"] * 2


def test_the_consent_awaits_its_file_and_then_the_customer(pisp, payer, make_payer):
    content = payment_file(instruction(1, "1.00"))
    response = create(pisp, consent_body(content))
    assert response.status_code == 201
    data = response.get_json()["Data"]
    assert data["Status"] == "AwaitingUpload"
    assert "Risk" not in response.get_json()
    assert read(pisp, f"{CONSENTS}/{data['ConsentId']}/file").status_code == 400
    assert upload(pisp, data["ConsentId"], content).status_code == 200
    assert read(pisp, f"{CONSENTS}/{data['ConsentId']}").get_json()["Data"]["Status"] == \
        "AwaitingAuthorisation"
    again = upload(pisp, data["ConsentId"], content)        # a new key: a second upload
    assert again.status_code == 400
    assert codes(again) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_a_consent_whose_file_never_came_is_rejected_after_the_window(app, pisp, clock):
    """CONSENT_AUTHORISATION_WINDOW covers the file and the approval: a day after the consent
    was made without its file, the minute sweep marks it Rejected and no file is taken."""
    from consent import tasks

    content = payment_file(instruction(1, "1.00"))
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    clock.advance(timedelta(days=1))
    with app.app_context():
        assert tasks.reject_overdue() == 1
    assert read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]["Status"] == "Rejected"
    late = upload(pisp, consent_id, content)
    assert late.status_code == 400
    assert codes(late) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_an_upload_repeated_with_its_key_replays_and_another_body_is_refused(pisp,
                                                                             platform):
    content = payment_file(instruction(1, "1.00"))
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    key = idem()
    first = upload(pisp, consent_id, content, headers=key)
    second = upload(pisp, consent_id, content, headers=key)
    assert (first.status_code, second.status_code) == (200, 200)
    other = upload(pisp, consent_id, payment_file(instruction(2, "2.00")), headers=key)
    assert other.status_code == 400
    assert codes(other) == ["UK.OBIE.Header.Invalid"]
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentFile)) == 1


@pytest.mark.parametrize("case, expected", [
    ("unsigned", "UK.OBIE.Signature.Missing"),
    ("another-body", "UK.OBIE.Signature.Invalid"),
])
def test_an_upload_must_be_signed_over_the_file(pisp, case, expected):
    content = payment_file(instruction(1, "1.00"))
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    headers = {} if case == "unsigned" else \
        {"x-jws-signature": pisp.signature(payment_file(instruction(1, "9.00")))}
    response = upload(pisp, consent_id, content, headers=headers, sign=case != "unsigned")
    assert response.status_code == 400
    assert codes(response) == [expected]


def test_another_file_than_the_consents_is_refused_and_may_be_sent_again(pisp):
    content = payment_file(instruction(1, "1.00"))
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    wrong = upload(pisp, consent_id, payment_file(instruction(1, "1.01")))
    assert wrong.status_code == 400
    assert codes(wrong) == ["UK.OBIE.Resource.ConsentMismatch"]
    assert read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]["Status"] == \
        "AwaitingUpload"
    assert upload(pisp, consent_id, content).status_code == 200


@pytest.mark.parametrize("metadata, path", [
    ({"count": 2}, "Data.Initiation.NumberOfTransactions"),
    ({"total": 1.5}, "Data.Initiation.ControlSum"),
])
def test_a_file_that_contradicts_its_metadata_rejects_the_consent(pisp, metadata, path):
    content = payment_file(instruction(1, "1.00"))
    consent_id = create(pisp, consent_body(content, **metadata)).get_json()["Data"]["ConsentId"]
    response = upload(pisp, consent_id, content)
    assert response.status_code == 400
    errors = response.get_json()["Errors"]
    assert [(e["ErrorCode"], e["Path"]) for e in errors] == [
        ("UK.OBIE.Resource.ConsentMismatch", path)]
    assert read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]["Status"] == "Rejected"
    assert upload(pisp, consent_id, content).status_code == 400


@pytest.mark.parametrize("payments, code, path", [
    ([instruction(1, "1.001")], "UK.OBIE.Field.Invalid",
     "Data.DomesticPayments[0].InstructedAmount.Amount"),
    ([instruction(1, "1.00"), instruction(1, "2.00")], "UK.OBIE.Rules.DuplicateReference",
     "Data.DomesticPayments[1].InstructionIdentification"),
    ([instruction(1, "1.00", {"SchemeName": INSIDE, "Identification": "12345",
                              "Name": "Short"})],
     "UK.OBIE.Field.Invalid", "Data.DomesticPayments[0].CreditorAccount.Identification"),
    ([{**instruction(1, "1.00"), "InstructedAmount": {"Amount": "1.00", "Currency": "EUR"}}],
     "UK.OBIE.Unsupported.Currency", "Data.DomesticPayments[0].InstructedAmount.Currency"),
    ([instruction(1, "1.00", DebtorAccount={"SchemeName": INSIDE,
                                            "Identification": "40123412345678"})],
     "UK.OBIE.Field.Unexpected", "Data.DomesticPayments[0].DebtorAccount"),
    ([{"InstructionIdentification": "X"}], "UK.OBIE.Resource.InvalidFormat",
     "Data.DomesticPayments[0].CreditorAccount"),
])
def test_a_file_with_a_bad_payment_is_refused_with_its_path(pisp, payments, code, path):
    content = payment_file(*payments)
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    response = upload(pisp, consent_id, content)
    assert response.status_code == 400, response.get_json()
    assert (code, path) in [(e["ErrorCode"], e.get("Path")) for e in
                            response.get_json()["Errors"]]
    assert read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]["Status"] == \
        "AwaitingUpload"


def test_a_json_file_sent_as_xml_is_refused(pisp):
    content = payment_file(instruction(1, "1.00"))
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    response = upload_xml(pisp, consent_id, content, "text/xml")
    assert response.status_code == 400
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [
        ("UK.OBIE.Field.Invalid", "Content-Type")]


def test_a_document_that_is_not_a_payment_file_is_refused(pisp):
    content = json.dumps({"Data": {"Payments": []}}).encode()
    consent_id = create(pisp, consent_body(content)).get_json()["Data"]["ConsentId"]
    response = upload(pisp, consent_id, content)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidFormat"]


@pytest.mark.parametrize("initiation, code, path", [
    ({"FileType": "UK.OBIE.PaymentInitiation.2.1"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.FileType"),
    ({"FileHash": "not-a-hash"}, "UK.OBIE.Field.Invalid", "Data.Initiation.FileHash"),
    ({"NumberOfTransactions": "0"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.NumberOfTransactions"),
    ({"LocalInstrument": "UK.OBIE.CHAPS"}, "UK.OBIE.Unsupported.LocalInstrument",
     "Data.Initiation.LocalInstrument"),
    ({"RequestedExecutionDateTime": "2031-01-01T00:00:00+00:00"},
     "UK.OBIE.Field.InvalidDate", "Data.Initiation.RequestedExecutionDateTime"),
])
def test_metadata_the_bank_cannot_take_is_refused_at_once(pisp, initiation, code, path):
    body = consent_body(payment_file(instruction(1, "1.00")))
    body["Data"]["Initiation"].update(initiation)
    response = create(pisp, body)
    assert response.status_code == 400, response.get_json()
    assert [(e["ErrorCode"], e.get("Path")) for e in response.get_json()["Errors"]] == [
        (code, path)]


def test_a_submission_must_carry_the_consents_initiation(pisp, payer, file_journey, platform):
    consent_id, body, _, token = file_journey(payer, instruction(1, "1.00"))
    changed = copy.deepcopy(body)
    changed["Data"]["Initiation"]["FileReference"] = "OTHER"
    response = submit(pisp, consent_id, changed, token)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 0


def test_another_pisp_sees_neither_the_consent_nor_its_file(pisp, other_pisp, staged):
    consent_id, _, _ = staged(instruction(1, "1.00"))
    for path in (f"{CONSENTS}/{consent_id}", f"{CONSENTS}/{consent_id}/file"):
        response = read(other_pisp, path)
        assert response.status_code in (400, 403), path
        assert "DomesticPayments" not in response.get_data(as_text=True)


def test_the_file_is_kept_byte_for_byte(pisp, staged, platform):
    consent_id, _, content = staged(instruction(1, "1.00"), instruction(2, "2.00"))
    with platform.uow() as uow:
        row = uow.session.scalars(select(PaymentFile)).one()
        assert bytes(row.content) == content
        assert row.total_amount == "3.00"


# --- the contract --------------------------------------------------------------------------
def check(method: str, path: str, response, status: int, *, file: bool = False) -> None:
    """`response` against the official v3.1.11 document. A file (GET .../file, the report)
    is its own format: the document's `File` schema is a placeholder that no real file fits
    (an object with no properties), so for those only the status and the required headers
    (x-fapi-interaction-id, x-jws-signature) are checked."""
    assert response.status_code == status, (path, response.get_data(as_text=True))
    body = {} if file else response.get_json(silent=True)
    validate_response(SPEC, path.removeprefix(PISP), method, response.status_code, body,
                      headers=response.headers)


def test_every_file_payment_endpoint_matches_the_contract(pisp, payer, make_payer, approve):
    content = payment_file(instruction(1, "10.00"), instruction(2, "2.50"))
    body = consent_body(content, count=2, total=12.5, LocalInstrument="UK.OBIE.FPS",
                        RequestedExecutionDateTime=None,
                        RemittanceInformation={"Reference": "DEC PAYROLL"},
                        SupplementaryData={"batch": 7})
    body["Data"]["Initiation"].pop("RequestedExecutionDateTime")
    body["Data"]["Authorisation"] = {"AuthorisationType": "Single"}
    body["Data"]["SCASupportData"] = {"AppliedAuthenticationApproach": "SCA"}
    created = create(pisp, body)
    check("POST", CONSENTS, created, 201)
    consent_id = created.get_json()["Data"]["ConsentId"]
    check("GET", f"{CONSENTS}/{consent_id}", read(pisp, f"{CONSENTS}/{consent_id}"), 200)
    check("POST", f"{CONSENTS}/{consent_id}/file", upload(pisp, consent_id, content), 200)
    check("GET", f"{CONSENTS}/{consent_id}/file", read(pisp, f"{CONSENTS}/{consent_id}/file"),
          200, file=True)
    approve(consent_id, payer)
    check("GET", f"{CONSENTS}/{consent_id}", read(pisp, f"{CONSENTS}/{consent_id}"), 200)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    submitted = submit(pisp, consent_id, body, token)
    check("POST", PAYMENTS, submitted, 201)
    payment_id = submitted.get_json()["Data"]["FilePaymentId"]
    for path in (f"{PAYMENTS}/{payment_id}", f"{PAYMENTS}/{payment_id}/payment-details",
                 f"{CONSENTS}/{consent_id}"):
        check("GET", path, read(pisp, path), 200)
    check("GET", f"{PAYMENTS}/{payment_id}/report-file",
          read(pisp, f"{PAYMENTS}/{payment_id}/report-file"), 200, file=True)

    poor = make_payer("1.00")
    consent_id, body, _, token = _approved(pisp, approve, poor, instruction(3, "5.00"))
    payment_id = submit(pisp, consent_id, body, token).get_json()["Data"]["FilePaymentId"]
    for path in (f"{PAYMENTS}/{payment_id}", f"{PAYMENTS}/{payment_id}/payment-details"):
        check("GET", path, read(pisp, path), 200)


def _approved(pisp, approve, customer, *payments):
    content = payment_file(*payments)
    body = consent_body(content)
    consent_id = create(pisp, body).get_json()["Data"]["ConsentId"]
    assert upload(pisp, consent_id, content).status_code == 200
    approve(consent_id, customer)
    return consent_id, body, content, pisp.token(
        scope="payments", grant_type="authorization_code", consent_id=consent_id,
        psu=customer.psu)


def test_file_payment_errors_match_the_contract(pisp, payer, approve):
    content = payment_file(instruction(1, "1.00"))
    bad = consent_body(content)
    bad["Data"]["Initiation"]["FileType"] = "UK.OBIE.PaymentInitiation.2.1"
    check("POST", CONSENTS, create(pisp, bad), 400)
    consent_id = create(pisp, consent_body(content, count=3)).get_json()["Data"]["ConsentId"]
    check("POST", f"{CONSENTS}/{consent_id}/file", upload(pisp, consent_id, content), 400)
    check("GET", f"{CONSENTS}/{consent_id}", read(pisp, f"{CONSENTS}/{consent_id}"), 200)
    check("GET", f"{CONSENTS}/{consent_id}/file", read(pisp, f"{CONSENTS}/{consent_id}/file"),
          400)
    check("GET", f"{PAYMENTS}/unknown/report-file", read(pisp, f"{PAYMENTS}/unknown/report-file"),
          400)


# --- UK.OBIE.pain.001.001.08 -------------------------------------------------------------------
PAIN = "UK.OBIE.pain.001.001.08"


def pain_file(debtor: str, *transactions: str, count: str | None = None,
              control: str | None = None, day: str | None = None, head: str = "") -> bytes:
    """An ISO 20022 pain.001.001.08 document paying from `debtor` (a sort code and account
    number), with the CdtTrfTxInf elements given."""
    header = f"<NbOfTxs>{count or len(transactions)}</NbOfTxs>" + \
        (f"<CtrlSum>{control}</CtrlSum>" if control else "")
    return (f'<?xml version="1.0" encoding="UTF-8"?>{head}'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.08">'
            f"<CstmrCdtTrfInitn><GrpHdr><MsgId>MSG-1</MsgId>"
            f"<CreDtTm>2026-12-07T09:00:00</CreDtTm>{header}"
            "<InitgPty><Nm>Pat Payer</Nm></InitgPty></GrpHdr>"
            "<PmtInf><PmtInfId>BATCH-1</PmtInfId><PmtMtd>TRF</PmtMtd>"
            f"<ReqdExctnDt><Dt>{day}</Dt></ReqdExctnDt><Dbtr><Nm>Pat Payer</Nm></Dbtr>"
            f"<DbtrAcct><Id><Othr><Id>{debtor}</Id></Othr></Id></DbtrAcct>"
            "<DbtrAgt><FinInstnId><BICFI>INVBGB2L</BICFI></FinInstnId></DbtrAgt>"
            + "".join(transactions) + "</PmtInf></CstmrCdtTrfInitn></Document>").encode()


def transfer(n: int, amount: str, *, iban: str | None = None, scan: str | None = None,
             name: str = "ACME Ltd") -> str:
    account = f"<IBAN>{iban}</IBAN>" if iban else f"<Othr><Id>{scan}</Id></Othr>"
    return (f"<CdtTrfTxInf><PmtId><InstrId>PAIN-{n}</InstrId><EndToEndId>E2E-PAIN-{n}"
            f'</EndToEndId></PmtId><Amt><InstdAmt Ccy="GBP">{amount}</InstdAmt></Amt>'
            f"<Cdtr><Nm>{name}</Nm></Cdtr><CdtrAcct><Id>{account}</Id></CdtrAcct>"
            f"<RmtInf><Ustrd>Invoice {n}</Ustrd><Strd><CdtrRefInf><Ref>INV-{n}</Ref>"
            "</CdtrRefInf></Strd></RmtInf></CdtTrfTxInf>")


def pain_consent(content: bytes, debtor: str | None, **initiation) -> dict:
    body = consent_body(content, FileType=PAIN, **initiation)
    if debtor:
        body["Data"]["Initiation"]["DebtorAccount"] = {"SchemeName": INSIDE,
                                                       "Identification": debtor}
    return body


def upload_xml(tpp, consent_id: str, content: bytes, content_type: str = "text/xml"):
    return tpp.call("POST", f"{CONSENTS}/{consent_id}/file", token=tpp.token(scope="payments"),
                    data=content, content_type=content_type,
                    headers={**idem(), "x-jws-signature": tpp.signature(content)})


def test_a_pain001_file_pays_its_transfers(pisp, payer, approve, platform, clock):
    today = clock.now().date().isoformat()
    debtor = payer.sort_codes[0]
    content = pain_file(debtor, transfer(1, "7.00", scan=OUTSIDE_PAYEE["Identification"]),
                        transfer(2, "3.25", iban="GB29NWBK60161331926819", name="Jo Bloggs"),
                        control="10.25", day=today)
    body = pain_consent(content, debtor, NumberOfTransactions="2", ControlSum=10.25)
    created = create(pisp, body)
    assert created.status_code == 201, created.get_json()
    consent_id = created.get_json()["Data"]["ConsentId"]
    assert upload_xml(pisp, consent_id, content).status_code == 200
    back = read(pisp, f"{CONSENTS}/{consent_id}/file")
    assert back.status_code == 200 and back.get_data() == content
    assert back.mimetype == "text/xml"
    approve(consent_id, payer)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    response = submit(pisp, consent_id, body, token)
    assert response.status_code == 201, response.get_json()
    payment_id = response.get_json()["Data"]["FilePaymentId"]
    assert read(pisp, f"{PAYMENTS}/{payment_id}").get_json()["Data"]["Status"] == \
        "InitiationCompleted"
    lines = read(pisp, f"{PAYMENTS}/{payment_id}/report-file").get_json()["Data"]["Payments"]
    assert [(p["InstructionIdentification"], p["CreditorAccount"]["SchemeName"], p["Status"])
            for p in lines] == [
        ("PAIN-1", INSIDE, "AcceptedSettlementCompleted"),
        ("PAIN-2", "UK.OBIE.IBAN", "AcceptedSettlementCompleted")]
    assert balances(platform, clock, payer.account_ids[0])["InterimBooked"] == \
        Money.of("89.75", "GBP")
    with platform.uow() as uow:
        references = {p.reference for p in uow.session.scalars(select(Payment))}
        assert references == {"INV-1", "INV-2"}


def test_a_pain001_consent_names_its_debtor_account(pisp):
    response = create(pisp, pain_consent(b"<Document/>", None))
    assert response.status_code == 400
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [
        ("UK.OBIE.Field.Expected", "Data.Initiation.DebtorAccount")]


XXE = ('<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>')


@pytest.mark.parametrize("case, code, path", [
    ("entity", "UK.OBIE.Resource.InvalidFormat", "File"),
    ("not-xml", "UK.OBIE.Resource.InvalidFormat", "File"),
    ("count", "UK.OBIE.Resource.InvalidFormat", "GrpHdr.NbOfTxs"),
    ("control", "UK.OBIE.Resource.InvalidFormat", "GrpHdr.CtrlSum"),
    ("tomorrow", "UK.OBIE.Field.InvalidDate", "PmtInf[0].ReqdExctnDt"),
    ("other-debtor", "UK.OBIE.Field.Unexpected", "CdtTrfTxInf[0].DebtorAccount"),
    ("bad-iban", "UK.OBIE.Field.Invalid", "CdtTrfTxInf[0].CreditorAccount.Identification"),
    ("json", "UK.OBIE.Resource.InvalidFormat", None),     # not JSON: the gate refuses it
])
def test_a_pain001_file_breaking_a_rule_is_refused(pisp, payer, clock, case, code, path):
    today = clock.now().date()
    debtor = payer.sort_codes[0]
    one = transfer(1, "1.00", scan=OUTSIDE_PAYEE["Identification"])
    content = {
        "entity": pain_file(debtor, one, day=today.isoformat(), head=XXE),
        "not-xml": b"<Document><unclosed></Document>",
        "count": pain_file(debtor, one, count="2", day=today.isoformat()),
        "control": pain_file(debtor, one, control="9.99", day=today.isoformat()),
        "tomorrow": pain_file(debtor, one, day=today.replace(year=today.year + 1).isoformat()),
        "other-debtor": pain_file("40123412345678", one, day=today.isoformat()),
        "bad-iban": pain_file(debtor, transfer(1, "1.00", iban="GB00NWBK60161331926819"),
                              day=today.isoformat()),
        "json": pain_file(debtor, one, day=today.isoformat()),
    }[case]
    consent_id = create(pisp, pain_consent(content, debtor)).get_json()["Data"]["ConsentId"]
    response = upload_xml(pisp, consent_id, content,
                          "application/json" if case == "json" else "text/xml")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert (code, path) in [(e["ErrorCode"], e.get("Path"))
                            for e in response.get_json()["Errors"]]
    assert "root:" not in response.get_data(as_text=True)
    assert read(pisp, f"{CONSENTS}/{consent_id}").get_json()["Data"]["Status"] == \
        "AwaitingUpload"


# --- execution: lost, redelivered ------------------------------------------------------------
def test_a_lost_file_execution_is_swept_and_a_redelivered_one_pays_nothing_more(
        app, pisp, payer, file_journey, platform, clock):
    from aspsp.pis import services, tasks
    from tests.integration.pis.test_stuck_orders import _Context

    consent_id, body, _, _ = file_journey(payer, instruction(1, "10.00"),
                                          instruction(2, "5.00"))
    context = _Context(SimpleNamespace(consent_id=consent_id, tpp=pisp), platform)
    with platform.uow() as uow:
        record = services.submit_order(uow, context, context, {"Data": {
            "ConsentId": consent_id, "Initiation": body["Data"]["Initiation"]}},
            services.FILE_PAYMENT, clock.now())
        uow.session.commit()          # committed, but the task it would send is lost
    status = lambda: read(pisp, f"{PAYMENTS}/{record.payment_order_id}"  # noqa: E731
                          ).get_json()["Data"]["Status"]
    assert status() == "InitiationPending"
    clock.advance(timedelta(minutes=2))
    with app.app_context():
        assert tasks.execute_stuck_orders() == 1
        assert tasks.execute_stuck_orders() == 0      # initiated: left alone
    assert status() == "InitiationCompleted"
    with app.app_context():                            # the task delivered once more
        assert tasks.execute_payment_order(record.payment_order_id) == "InitiationCompleted"
    assert balances(platform, clock, payer.account_ids[0])["InterimBooked"] == \
        Money.of("85.00", "GBP")
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == 2
        assert ledger.reconcile_balances(uow) == []


# --- hostile or odd input: a 400, never a 500 ---------------------------------------------------
@pytest.mark.parametrize("case", ["encoding", "exponent", "date-time-tomorrow", "no-date"])
def test_odd_pain001_documents_are_refused_cleanly(pisp, payer, clock, case):
    today = clock.now().date()
    debtor = payer.sort_codes[0]
    one = transfer(1, "1.00", scan=OUTSIDE_PAYEE["Identification"])
    content = {
        "encoding": pain_file(debtor, one, day=today.isoformat()).replace(
            b'encoding="UTF-8"', b'encoding="rot13"'),
        "exponent": pain_file(debtor, transfer(1, "1E+1000000",
                                               scan=OUTSIDE_PAYEE["Identification"]),
                              control="1.00", day=today.isoformat()),
        "date-time-tomorrow": pain_file(debtor, one, day="x").replace(
            b"<Dt>x</Dt>", f"<DtTm>{today.replace(year=today.year + 1)}T09:00:00</DtTm>"
            .encode()),
        "no-date": pain_file(debtor, one, day="x").replace(b"<Dt>x</Dt>", b""),
    }[case]
    consent_id = create(pisp, pain_consent(content, debtor)).get_json()["Data"]["ConsentId"]
    response = upload_xml(pisp, consent_id, content)
    assert response.status_code == 400, response.get_data(as_text=True)
    expected = {"encoding": ("UK.OBIE.Resource.InvalidFormat", "File"),
                "exponent": ("UK.OBIE.Resource.InvalidFormat",     # not the OB pattern
                             "CdtTrfTxInf[0].InstructedAmount.Amount"),
                "date-time-tomorrow": ("UK.OBIE.Field.InvalidDate", "PmtInf[0].ReqdExctnDt"),
                "no-date": ("UK.OBIE.Field.InvalidDate", "PmtInf[0].ReqdExctnDt")}[case]
    assert expected in [(e["ErrorCode"], e.get("Path")) for e in response.get_json()["Errors"]]


def test_a_control_sum_beyond_any_file_is_refused(pisp):
    body = consent_body(payment_file(instruction(1, "1.00")))
    body["Data"]["Initiation"]["ControlSum"] = 100000000000000000000
    response = create(pisp, body)
    assert response.status_code == 400
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [
        ("UK.OBIE.Field.Invalid", "Data.Initiation.ControlSum")]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(pisp, constant):
    content = payment_file(instruction(1, "1.00"))
    text = json.dumps(consent_body(content)).replace(
        '"FileReference": "PAYROLL-DEC"',
        f'"FileReference": "PAYROLL-DEC", "SupplementaryData": {{"x": {constant}}}')
    data = text.encode()
    response = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), data=data,
                         content_type="application/json",
                         headers={**idem(), "x-jws-signature": pisp.signature(data)})
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidFormat"]


def test_a_file_hash_in_another_base64_spelling_still_names_the_file(pisp):
    content = payment_file(instruction(1, "1.00"))
    canonical = sha(content)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(canonical[-2])          # 44 characters: 2 unused bits before "="
    other = canonical[:-2] + alphabet[last ^ 1] + "="
    assert other != canonical and base64.b64decode(other) == base64.b64decode(canonical)
    body = consent_body(content)
    body["Data"]["Initiation"]["FileHash"] = other
    consent_id = create(pisp, body).get_json()["Data"]["ConsentId"]
    assert upload(pisp, consent_id, content).status_code == 200


def test_a_pain001_file_is_submitted_on_the_day_it_asks_for(pisp, payer, approve, clock):
    debtor = payer.sort_codes[0]
    content = pain_file(debtor, transfer(1, "1.00", scan=OUTSIDE_PAYEE["Identification"]),
                        day=clock.now().date().isoformat())
    body = pain_consent(content, debtor)
    consent_id = create(pisp, body).get_json()["Data"]["ConsentId"]
    assert upload_xml(pisp, consent_id, content).status_code == 200
    approve(consent_id, payer)
    clock.advance(timedelta(days=1))
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    response = submit(pisp, consent_id, body, token)
    assert response.status_code == 400, response.get_json()
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [
        ("UK.OBIE.Field.InvalidDate", "File.ReqdExctnDt")]
