"""A `UK.OBIE.pain.001.001.08` payment file (ISO 20022 CustomerCreditTransferInitiationV08)
read as the domestic payments it describes, so that a file of either type meets the same
rules (aspsp.pis.files) and is paid the same way.

Parsed with defusedxml: a DTD, an entity declaration or an external reference is refused,
never expanded. What this bank reads of the document, each `CdtTrfTxInf` becoming one
OBDomestic2-shaped payment:

| ISO 20022 | OBDomestic2 |
|---|---|
| `PmtId/InstrId` (else `PmtId/EndToEndId`) | `InstructionIdentification` |
| `PmtId/EndToEndId` | `EndToEndIdentification` |
| `Amt/InstdAmt` and its `Ccy` | `InstructedAmount` |
| `Cdtr/Nm` | `CreditorAccount.Name` |
| `CdtrAcct/Id/IBAN` | `CreditorAccount`, `UK.OBIE.IBAN` |
| `CdtrAcct/Id/Othr/Id` (14 digits) | `CreditorAccount`, `UK.OBIE.SortCodeAccountNumber` |
| `RmtInf/Strd/CdtrRefInf/Ref` | `RemittanceInformation.Reference` |
| `RmtInf/Ustrd` (the first) | `RemittanceInformation.Unstructured` |
| `PmtTpInf/LclInstrm/Prtry` (of the transaction, else of its `PmtInf`) | `LocalInstrument` |
| `PmtInf/DbtrAcct` | `DebtorAccount` (the file's: the consent's `DebtorAccount` must be it) |

and the document's own rules: `PmtMtd` `TRF`; `ReqdExctnDt` today (the bank initiates a file
when it is submitted); `GrpHdr/NbOfTxs` and, when given, `GrpHdr/CtrlSum` those of its
transactions. Anything else in the document is not read.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from datetime import date
from decimal import Decimal, DecimalException

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .domain import IBAN_SCHEME, SORT_CODE_ACCOUNT_NUMBER, Problem, ProblemKind

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.08"
_N = {"p": NAMESPACE}
_SCAN = re.compile(r"^\d{14}$")
_AMOUNT = re.compile(r"^\d{1,18}(\.\d{1,5})?$")      # ISO 20022 DecimalNumber, as amounts are


def payments(content: bytes, *, today: date) -> list[dict]:
    """The file's transactions as OBDomestic2 payments, in document order; FileRefused
    (aspsp.pis.files) with the document's problems."""
    from .files import MAX_PAYMENTS, FileRefused

    root = _document(content)
    initiation = root.find("p:CstmrCdtTrfInitn", _N)
    if initiation is None:
        raise FileRefused([_format("Document", "the document holds no CstmrCdtTrfInitn")])
    problems: list[Problem] = []
    found: list[dict] = []
    missing: list[Problem] = []
    blocks = initiation.findall("p:PmtInf", _N)
    if not blocks:
        raise FileRefused([_format("PmtInf", "the document holds no PmtInf")])
    for b, block in enumerate(blocks):
        where = f"PmtInf[{b}]"
        if _text(block, "p:PmtMtd") != "TRF":
            problems.append(_format(f"{where}.PmtMtd", "a credit transfer's PmtMtd is TRF"))
        day = requested_day(block)
        if day != today.isoformat():
            problems.append(Problem(ProblemKind.INVALID_DATE, f"{where}.ReqdExctnDt",
                                    "this bank initiates a file when it is submitted: "
                                    f"ReqdExctnDt (Dt or DtTm) is today, {today.isoformat()}"))
        debtor = _account(block.find("p:DbtrAcct", _N), _text(block, "p:Dbtr/p:Nm"))
        instrument = _text(block, "p:PmtTpInf/p:LclInstrm/p:Prtry")
        for transaction in block.findall("p:CdtTrfTxInf", _N):
            payment, absent = _payment(transaction, debtor, instrument)
            missing += [_format(f"CdtTrfTxInf[{len(found)}].{name}",
                                f"{name} is missing or malformed") for name in absent]
            found.append(payment)
    if not found:
        raise FileRefused([_format("CdtTrfTxInf", "the document holds no CdtTrfTxInf")])
    if len(found) > MAX_PAYMENTS:
        raise FileRefused([Problem(ProblemKind.INVALID, "CdtTrfTxInf",
                                   f"a file holds 1 to {MAX_PAYMENTS} payments")])
    problems += _header_problems(initiation, found) + missing
    if problems:
        raise FileRefused(problems[:20])
    return found


def requested_day(block) -> str | None:
    """The day a PmtInf asks to be paid on, YYYY-MM-DD: ReqdExctnDt's Dt, or the date of its
    DtTm (the two choices of ISO 20022's DateAndDateTime2Choice)."""
    value = _text(block, "p:ReqdExctnDt/p:Dt") or _text(block, "p:ReqdExctnDt/p:DtTm")
    return value[:10] if value else None


def _document(content: bytes):
    from .files import FileRefused
    try:
        root = fromstring(content, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError) as error:
        reason = "a DTD or entity, which this bank does not read" \
            if isinstance(error, DefusedXmlException) else \
            "in an encoding this bank does not know" if isinstance(error, LookupError) else \
            "not well-formed XML"
        raise FileRefused([_format("File", f"the file is {reason}")]) from None
    if root.tag != f"{{{NAMESPACE}}}Document":
        raise FileRefused([_format("Document", f"a {NAMESPACE.rsplit(':', 1)[-1]} file is a "
                                   f"Document in the namespace {NAMESPACE}")])
    return root


def _payment(transaction, debtor: dict | None, instrument: str | None
             ) -> tuple[dict, list[str]]:
    """The transaction as an OBDomestic2 payment, and the names of the elements it lacks."""
    end_to_end = _text(transaction, "p:PmtId/p:EndToEndId")
    amount = transaction.find("p:Amt/p:InstdAmt", _N)
    creditor = _account(transaction.find("p:CdtrAcct", _N), _text(transaction, "p:Cdtr/p:Nm"))
    payment: dict = {
        "InstructionIdentification": _text(transaction, "p:PmtId/p:InstrId") or end_to_end,
        "EndToEndIdentification": end_to_end,
        "InstructedAmount": {"Amount": (amount.text or "").strip() if amount is not None
                             else None,
                             "Currency": amount.get("Ccy") if amount is not None else None},
        "CreditorAccount": creditor}
    missing = [name for name, value in (
        ("PmtId.EndToEndId", end_to_end), ("Amt.InstdAmt", payment["InstructedAmount"]["Amount"]),
        ("Amt.InstdAmt.Ccy", payment["InstructedAmount"]["Currency"]),
        ("CdtrAcct", creditor), ("Cdtr.Nm", (creditor or {}).get("Name"))) if not value]
    own = _text(transaction, "p:PmtTpInf/p:LclInstrm/p:Prtry") or instrument
    if own:
        payment["LocalInstrument"] = own
    if debtor is not None:
        payment["DebtorAccount"] = debtor
    remittance = {}
    reference = _text(transaction, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Ref")
    unstructured = _text(transaction, "p:RmtInf/p:Ustrd")
    if reference:
        remittance["Reference"] = reference
    if unstructured:
        remittance["Unstructured"] = unstructured
    if remittance:
        payment["RemittanceInformation"] = remittance
    return payment, missing


def _account(node, name: str | None) -> dict | None:
    """An ISO 20022 account as an OB account: an IBAN, or `Othr/Id` of 14 digits (a UK sort
    code and account number); another identification is kept as sent under its own scheme
    name, for the domestic rules to refuse (`UK.OBIE.Unsupported.Scheme`)."""
    if node is None:
        return None
    iban = _text(node, "p:Id/p:IBAN")
    other = _text(node, "p:Id/p:Othr/p:Id")
    if iban:
        account = {"SchemeName": IBAN_SCHEME, "Identification": iban}
    elif other and _SCAN.match(other):
        account = {"SchemeName": SORT_CODE_ACCOUNT_NUMBER, "Identification": other}
    elif other:
        scheme = _text(node, "p:Id/p:Othr/p:SchmeNm/p:Prtry") or \
            _text(node, "p:Id/p:Othr/p:SchmeNm/p:Cd") or "Othr"
        account = {"SchemeName": f"ISO20022.{scheme}", "Identification": other}
    else:
        return None
    if name:
        account["Name"] = name
    return account


def _header_problems(initiation, found: list[dict]) -> list[Problem]:
    problems = []
    count = _text(initiation, "p:GrpHdr/p:NbOfTxs")
    if count != str(len(found)):
        problems.append(_format("GrpHdr.NbOfTxs", f"NbOfTxs is {count!r}; the document holds "
                                f"{len(found)} CdtTrfTxInf"))
    control = _text(initiation, "p:GrpHdr/p:CtrlSum")
    amounts = [p["InstructedAmount"]["Amount"] or "" for p in found]
    if control is not None and all(_AMOUNT.match(a) for a in amounts):
        try:            # the amounts' own problems are the domestic rules' to name
            total = sum((Decimal(a) for a in amounts), Decimal(0))
            if not _AMOUNT.match(control) or Decimal(control) != total:
                problems.append(_format("GrpHdr.CtrlSum", f"CtrlSum is {control[:40]}; the "
                                        f"document's amounts add up to {total}"))
        except DecimalException:
            problems.append(_format("GrpHdr.CtrlSum", "CtrlSum is not a decimal amount"))
    return problems


def _text(node, path: str) -> str | None:
    found = node.find(path, _N)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _format(path: str, message: str) -> Problem:
    return Problem(ProblemKind.FORMAT, path, message)
