"""File payments (OBIE Payment Initiation v3.1.11, file-payment-consents and file-payments):
the file's metadata checked when the consent is made, the file itself checked and kept when
the TPP uploads it, and what the approval page, the payment order and its report read of it.

The bank's own rules, which the profile leaves to each bank ("An ASPSP may choose which
fields must be populated to process a specified FileType ... These ASPSP specific
requirements must be documented"; README, "File payments"):

- FileType `UK.OBIE.PaymentInitiation.3.1`: a JSON document `{"Data": {"DomesticPayments":
  [...]}}` whose items are domestic payment initiations (OBDomestic2), sent as
  `application/json`; or `UK.OBIE.pain.001.001.08`: an ISO 20022 customer credit transfer
  initiation, sent as `text/xml` (or `application/xml`), read with defusedxml (no DTD, no
  entity), each `CdtTrfTxInf` taken as the domestic payment it describes (`pain001`).
- At most MAX_PAYMENTS payments and MAX_FILE_BYTES bytes; every payment a domestic one in
  GBP to a sort code and account number or an IBAN, as a domestic payment consent takes it;
  each InstructionIdentification once in the file.
- A payment names no DebtorAccount, or the file's own (Initiation.DebtorAccount): the whole
  file is paid from the one account the customer picks when approving it.
- RequestedExecutionDateTime, when given, is today: the bank initiates a file when the
  file payment is submitted.
- FileHash is the base64 SHA-256 of the bytes uploaded; NumberOfTransactions and ControlSum,
  when given, are the file's count and the sum of its amounts. A file whose hash differs is
  refused and may be sent again; a file that contradicts the metadata rejects the consent
  (profile: "the ASPSP must reject the file-payment-consent").

Pure functions first; `store` and `uploaded_file` take a session and never commit.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import domain
from .domain import Problem, ProblemKind
from .models import PaymentFile

FILE_PAYMENT = "file-payment"
JSON_FILE_TYPE = "UK.OBIE.PaymentInitiation.3.1"
PAIN_FILE_TYPE = "UK.OBIE.pain.001.001.08"
# FileType -> the media types its upload may be sent as (the first is the documented one)
FILE_TYPES = {JSON_FILE_TYPE: ("application/json",),
              PAIN_FILE_TYPE: ("text/xml", "application/xml")}
MEDIA_TYPES = tuple(sorted({m for types in FILE_TYPES.values() for m in types}))
MAX_FILE_BYTES = 1_000_000
MAX_PAYMENTS = 500
MAX_CONTROL_SUM = 5 * 10 ** 15     # 500 payments of the largest amount the OB pattern allows
CURRENCY = "GBP"
# A file payment order's statuses (OBWriteFileResponse3).
INITIATION_PENDING = "InitiationPending"
INITIATION_COMPLETED = "InitiationCompleted"
INITIATION_FAILED = "InitiationFailed"
REJECTED = "the uploaded file contradicts the consent's metadata"


@dataclass(frozen=True)
class FileContents:
    payments: list[dict]          # the file's DomesticPayments, as sent
    total: Decimal                # the sum of their amounts (all GBP)


class FileRefused(Exception):
    """The uploaded file cannot be the consent's. `rejects`: it contradicts the consent's
    metadata, so the consent is Rejected; otherwise (another file's hash, not a file this bank
    reads) the consent still awaits its file."""

    def __init__(self, problems: list[Problem], *, rejects: bool = False):
        super().__init__("; ".join(p.message for p in problems))
        self.problems, self.rejects = problems, rejects


# --- the consent's metadata ----------------------------------------------------------------
def initiation_problems(initiation: Mapping[str, Any], parsed: Mapping[str, Any],
                        now: datetime) -> list[Problem]:
    path = "Data.Initiation"
    problems: list[Problem] = []
    if initiation.get("FileType") not in FILE_TYPES:
        problems.append(Problem(ProblemKind.INVALID, f"{path}.FileType",
                                f"this bank reads files of type {', '.join(FILE_TYPES)}, not "
                                f"{initiation.get('FileType')!r}"))
    if hash_bytes(initiation.get("FileHash")) is None:
        problems.append(Problem(ProblemKind.INVALID, f"{path}.FileHash",
                                "FileHash is the base64 encoding of the file's SHA-256 "
                                "(32 bytes, 44 characters)"))
    count = initiation.get("NumberOfTransactions")
    if count is not None and not 1 <= int(count) <= MAX_PAYMENTS:
        problems.append(Problem(ProblemKind.INVALID, f"{path}.NumberOfTransactions",
                                f"a file holds 1 to {MAX_PAYMENTS} payments"))
    control = parsed.get("ControlSum")
    if control is not None and not 0 < control <= MAX_CONTROL_SUM:
        problems.append(Problem(ProblemKind.INVALID, f"{path}.ControlSum",
                                "ControlSum, the total of the file's amounts, is more than zero "
                                f"and at most {MAX_CONTROL_SUM:,}"))
    if "DebtorAccount" in initiation:
        problems += domain.account_problems(initiation["DebtorAccount"], f"{path}.DebtorAccount")
    elif initiation.get("FileType") == PAIN_FILE_TYPE:
        problems.append(Problem(ProblemKind.EXPECTED, f"{path}.DebtorAccount",
                                "a pain.001 file names the account it is paid from (DbtrAcct):"
                                " the consent names it too, in Initiation.DebtorAccount"))
    instrument = initiation.get("LocalInstrument")
    if instrument is not None and instrument not in domain.DOMESTIC_LOCAL_INSTRUMENTS:
        problems.append(Problem(ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT,
                                f"{path}.LocalInstrument",
                                f"a file's payments go by "
                                f"{', '.join(domain.DOMESTIC_LOCAL_INSTRUMENTS)}, not "
                                f"{instrument!r}"))
    requested = parsed.get("RequestedExecutionDateTime")
    if requested is not None and requested.astimezone(now.tzinfo).date() != now.date():
        problems.append(Problem(ProblemKind.INVALID_DATE, f"{path}.RequestedExecutionDateTime",
                                "this bank initiates a file when it is submitted: "
                                "RequestedExecutionDateTime, when given, is today"))
    return problems


def submission_problems(initiation: Mapping[str, Any], upload: PaymentFile | None,
                        now: datetime) -> list[Problem]:
    """A file asking to be paid on a day (RequestedExecutionDateTime, or a pain.001 file's
    ReqdExctnDt, which was the day of its upload) is submitted that day, never later: the
    bank initiates a file when it is submitted."""
    requested = initiation.get("RequestedExecutionDateTime")
    if isinstance(requested, str):
        day, path = datetime.fromisoformat(requested.replace("Z", "+00:00")) \
            .astimezone(now.tzinfo).date(), "Data.Initiation.RequestedExecutionDateTime"
    elif upload is not None and initiation.get("FileType") == PAIN_FILE_TYPE:
        day, path = upload.uploaded_at.astimezone(now.tzinfo).date(), "File.ReqdExctnDt"
    else:
        return []
    if day == now.date():
        return []
    return [Problem(ProblemKind.INVALID_DATE, path,
                    f"the file asks to be paid on {day.isoformat()}: it can be submitted on "
                    "that day only")]


def hash_bytes(value: Any) -> bytes | None:
    """The 32 bytes a FileHash encodes, or None when it is not a base64 SHA-256."""
    if not isinstance(value, str):
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 32 else None


def fingerprint(content_hash: str) -> str:
    """What the customer's authenticator signs for a file (dynamic linking, PSD2 RTS art.
    5(3)(c): the code is specific to the batch's total and its payees): the first 16 hex
    digits of the file's SHA-256, which covers every payee and amount in it."""
    digest = hash_bytes(content_hash) or b""
    return digest.hex().upper()[:16]


# --- the file --------------------------------------------------------------------------------
def read(initiation: Mapping[str, Any], content: bytes, content_type: str,
         today) -> FileContents:
    """The payments of an uploaded file, every rule above checked (`today`: the bank's date,
    which a pain.001 file's requested execution date must be); FileRefused if not."""
    if hashlib.sha256(content).digest() != hash_bytes(initiation.get("FileHash")):
        raise FileRefused([Problem(ProblemKind.MISMATCH, "FileHash",
                                   "the file's SHA-256 is not the consent's FileHash: this is "
                                   "not the file the consent was made for")])
    media_type = (content_type or "").split(";")[0].strip().lower()
    expected = FILE_TYPES.get(initiation.get("FileType"), ())
    if media_type not in expected:
        raise FileRefused([Problem(ProblemKind.INVALID, "Content-Type",
                                   f"a {initiation.get('FileType')} file is sent as "
                                   f"{' or '.join(expected)}")])
    if len(content) > MAX_FILE_BYTES:
        raise FileRefused([Problem(ProblemKind.INVALID, "File",
                                   f"a file is at most {MAX_FILE_BYTES:,} bytes")])
    if initiation.get("FileType") == PAIN_FILE_TYPE:
        from . import pain001
        payments, prefix = pain001.payments(content, today=today), "CdtTrfTxInf"
    else:
        payments, prefix = _payments(content), "Data.DomesticPayments"
    _check_shape(payments, prefix)
    problems: list[Problem] = []
    seen: set[str] = set()
    debtor = initiation.get("DebtorAccount")
    for index, payment in enumerate(payments):
        path = f"{prefix}[{index}]"
        problems += domain.domestic_initiation_problems(payment, path)
        named = payment.get("DebtorAccount")
        if named is not None and (debtor is None or not _same_account(named, debtor)):
            problems.append(Problem(ProblemKind.UNEXPECTED, f"{path}.DebtorAccount",
                                    "a file is paid from one account: a payment names no "
                                    "DebtorAccount or the file's Initiation.DebtorAccount"))
        instruction = payment["InstructionIdentification"]
        if instruction in seen:
            problems.append(Problem(ProblemKind.DUPLICATE, f"{path}.InstructionIdentification",
                                    f"InstructionIdentification {instruction!r} is in the file "
                                    "twice"))
        seen.add(instruction)
    if problems:
        raise FileRefused(problems[:20])
    total = sum((Decimal(p["InstructedAmount"]["Amount"]) for p in payments), Decimal(0))
    mismatches = []
    count = initiation.get("NumberOfTransactions")
    if count is not None and int(count) != len(payments):
        mismatches.append(Problem(ProblemKind.MISMATCH, "Data.Initiation.NumberOfTransactions",
                                  f"the file holds {len(payments)} payments, not {int(count)}"))
    control = initiation.get("ControlSum")
    if control is not None and _decimal(control) != total:
        mismatches.append(Problem(ProblemKind.MISMATCH, "Data.Initiation.ControlSum",
                                  f"the file's amounts add up to {total}, not {control}"))
    if mismatches:
        raise FileRefused(mismatches, rejects=True)
    return FileContents(payments, total)


def _payments(content: bytes) -> list[dict]:
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FileRefused([Problem(ProblemKind.FORMAT, "File",
                                   "the file is not a JSON document in UTF-8")]) from None
    data = document.get("Data") if isinstance(document, dict) else None
    payments = data.get("DomesticPayments") if isinstance(data, dict) else None
    if not isinstance(payments, list) or set(document) != {"Data"} \
            or set(data) != {"DomesticPayments"}:
        raise FileRefused([Problem(ProblemKind.FORMAT, "File", 'a UK.OBIE.PaymentInitiation.3.1'
                                   ' file is {"Data": {"DomesticPayments": [...]}}')])
    if not 1 <= len(payments) <= MAX_PAYMENTS:
        raise FileRefused([Problem(ProblemKind.INVALID, "Data.DomesticPayments",
                                   f"a file holds 1 to {MAX_PAYMENTS} payments")])
    return payments


def _check_shape(payments: list, prefix: str) -> None:
    """Each payment an OBDomestic2 initiation as the domestic payment schema takes it
    (required members, lengths, patterns, no unknown field)."""
    from .schemas import OBDomesticInitiationSchema
    schema = OBDomesticInitiationSchema()
    problems = []
    for index, payment in enumerate(payments):
        try:
            schema.load(payment if isinstance(payment, dict) else {})
        except ma.ValidationError as error:
            for field in sorted(_flatten(error.messages)):
                problems.append(Problem(ProblemKind.FORMAT, f"{prefix}[{index}].{field}",
                                        "missing, malformed or not a field of OBDomestic2"))
    if problems:
        raise FileRefused(problems[:20])


def _flatten(messages, prefix: str = "") -> list[str]:
    if not isinstance(messages, dict):
        return [prefix.rstrip(".") or "(payment)"]
    found = []
    for key, value in messages.items():
        found += _flatten(value, f"{prefix}{key}.") if isinstance(value, dict) \
            else [f"{prefix}{key}"]
    return found


def _same_account(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    try:
        return a.get("SchemeName") == b.get("SchemeName") and \
            domain.normalised_identification(a["SchemeName"], str(a.get("Identification"))) == \
            domain.normalised_identification(b["SchemeName"], str(b.get("Identification")))
    except (KeyError, ValueError):
        return False


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# --- storage -----------------------------------------------------------------------------------
def store(session: Session, consent_pk: int, content: bytes, content_type: str,
          contents: FileContents, now: datetime) -> PaymentFile:
    row = PaymentFile(consent_pk=consent_pk, content_type=content_type[:100], content=content,
                      payments=contents.payments, total_amount=str(contents.total),
                      currency=CURRENCY, uploaded_at=now)
    session.add(row)
    session.flush()
    return row


def uploaded_file(session: Session, consent_pk: int) -> PaymentFile | None:
    return session.scalars(select(PaymentFile).where(
        PaymentFile.consent_pk == consent_pk)).one_or_none()
