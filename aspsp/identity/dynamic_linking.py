"""Dynamic linking (PSD2 RTS art. 5): the one-time code that authorises a payment is bound to
its amount and its payee, the way a card reader's "Sign" mode binds it.

The customer's authenticator computes an OCRA response (RFC 6287, the OATH challenge-response
algorithm) from the customer's existing TOTP secret, the current 30-second time step and a
challenge derived from what the customer is paying: the amount, its currency and the payee's
account. The bank computes the same from the consent and compares. A code given for one amount,
currency or payee is a code for another challenge, and fails for any other; a change to any of
them after the code was given invalidates it (the pages re-derive the challenge at the decision).

The suite is `OCRA-1:HOTP-SHA256-6:QH64-T30S`: HMAC-SHA-256, 6 digits, a 64-hex-digit challenge
(the SHA-256 of the canonical payment text, `challenge`), and a 30-second time step. Checked
like the TOTP step (aspsp.identity.services.verify_totp): one step either side accepted, each
code once (per payment and time step), failures counted with the passwords and TOTP codes
towards the same lockout.

Pure functions first (the RFC construction, the payment's canonical text, the code at a time),
then the verify service, which takes the caller's unit of work and never commits.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import pyotp

from ..db import UnitOfWork
from ..keyring import Keyring, SealedValueError
from ..oauth.replay import ReplayCache
from . import services
from .errors import InvalidCode
from .models import PsuUser

SUITE = "OCRA-1:HOTP-SHA256-6:QH64-T30S"
SIGNED_CODE_REPLAY_TTL_SECONDS = services.TOTP_REPLAY_TTL_SECONDS
VALID_WINDOW = 1                       # steps either side of now, as for the TOTP step
STEP = "signed-code"                   # LoginEvent.step of a dynamic-linking attempt
_DOMAIN = "InvisibleBank-PaymentSign-1"

_HASHES = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
_SUITE = re.compile(r"OCRA-1:HOTP-(SHA1|SHA256|SHA512)-(0|[4-9]|10):(.+)")
_QUESTION = re.compile(r"Q([ANH])(\d\d)")
_TIME_STEP = re.compile(r"T(\d{1,2})([SMH])")
_STEP_SECONDS = {"S": 1, "M": 60, "H": 3600}
_STEP_RANGES = {"S": range(1, 60), "M": range(1, 60), "H": range(0, 49)}


class InvalidSuite(ValueError):
    pass


@dataclass(frozen=True)
class Suite:
    """An OCRA suite (RFC 6287 section 6), parsed."""
    text: str
    hash_name: str
    digits: int
    counter: bool
    question_format: str        # A, N or H
    question_length: int        # 4..64
    password_hash: str | None   # SHA1, SHA256, SHA512
    session_length: int | None  # bytes
    time_step: int | None       # seconds


def parse_suite(text: str) -> Suite:
    match = _SUITE.fullmatch(text or "")
    if not match:
        raise InvalidSuite(f"not an OCRA-1 suite: {text!r}")
    hash_name, digits, data_input = match.group(1), int(match.group(2)), match.group(3)
    parts = data_input.split("-")
    counter = parts[0] == "C"
    if counter:
        parts = parts[1:]
    question = _QUESTION.fullmatch(parts[0]) if parts else None
    if question is None or not 4 <= int(question.group(2)) <= 64:
        raise InvalidSuite(f"the suite's challenge is missing or malformed: {text!r}")
    password_hash = session_length = time_step = None
    for part in parts[1:]:
        if part.startswith("P") and part[1:] in _HASHES and password_hash is None:
            password_hash = part[1:]
        elif re.fullmatch(r"S\d{3}", part) and session_length is None:
            session_length = int(part[1:])
        elif (step := _TIME_STEP.fullmatch(part)) and time_step is None \
                and int(step.group(1)) in _STEP_RANGES[step.group(2)]:
            time_step = int(step.group(1)) * _STEP_SECONDS[step.group(2)]
        else:
            raise InvalidSuite(f"unknown or repeated data input {part!r} in {text!r}")
    return Suite(text, hash_name, digits, counter, question.group(1), int(question.group(2)),
                 password_hash, session_length, time_step)


def ocra(suite: str | Suite, key: bytes, question: str, *, counter: int | None = None,
         password_hash: bytes | None = None, session: bytes | None = None,
         time_steps: int | None = None) -> str:
    """OCRA = CryptoFunction(K, DataInput), DataInput = OCRASuite | 00 | C | Q | P | S | T
    (RFC 6287 sections 5.1 and 5.2). `question` as the suite's format says: decimal digits
    (N), hexadecimal (H) or text (A); `time_steps` is T, the number of time steps since the
    epoch."""
    suite = suite if isinstance(suite, Suite) else parse_suite(suite)
    data = suite.text.encode("ascii") + b"\x00"
    if suite.counter:
        if counter is None or not 0 <= counter < 2**64:
            raise ValueError("this suite needs a counter (0 to 2**64 - 1)")
        data += struct.pack(">Q", counter)
    data += _question_bytes(suite, question)
    if suite.password_hash:
        size = _HASHES[suite.password_hash]().digest_size
        if password_hash is None or len(password_hash) != size:
            raise ValueError(f"this suite needs a {suite.password_hash} password hash")
        data += password_hash
    if suite.session_length:
        if session is None or len(session) != suite.session_length:
            raise ValueError(f"this suite needs {suite.session_length} bytes of session data")
        data += session
    if suite.time_step:
        if time_steps is None or not 0 <= time_steps < 2**64:
            raise ValueError("this suite needs the time step count")
        data += struct.pack(">Q", time_steps)
    mac = hmac.new(key, data, _HASHES[suite.hash_name]).digest()
    if suite.digits == 0:
        return mac.hex()
    offset = mac[-1] & 0x0F                              # RFC 4226 dynamic truncation
    binary = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(binary % 10 ** suite.digits).zfill(suite.digits)


def _question_bytes(suite: Suite, question: str) -> bytes:
    """Q: 128 bytes, the question's bytes left-aligned and padded with zeros (RFC 6287
    section 5.1: a numeric question is first converted to its hexadecimal value)."""
    if not isinstance(question, str) or not 0 < len(question) <= suite.question_length:
        raise ValueError(f"the challenge must have at most {suite.question_length} characters")
    if suite.question_format == "N":
        if not question.isdigit() or not question.isascii():
            raise ValueError("a numeric challenge has decimal digits only")
        hex_digits = format(int(question), "X")
    elif suite.question_format == "H":
        if not re.fullmatch(r"[0-9A-Fa-f]+", question):
            raise ValueError("a hexadecimal challenge has hexadecimal digits only")
        hex_digits = question
    else:
        if not question.isascii() or not question.isprintable():
            raise ValueError("an alphanumeric challenge is printable ASCII")
        hex_digits = question.encode("ascii").hex()
    hex_digits = hex_digits.ljust(256, "0")
    if len(hex_digits) > 256:
        raise ValueError("the challenge is longer than 128 bytes")
    return bytes.fromhex(hex_digits)


# --- the payment the customer signs ---------------------------------------------------------

class NotSignable(ValueError):
    """The amount, currency or payee cannot be signed (malformed)."""


@dataclass(frozen=True)
class PaymentToSign:
    """What the customer's authenticator signs, canonical: amount without trailing zeros
    ("12.5" for 12.50), ISO 4217 currency, payee account identification in capitals without
    spaces or hyphens ("12345612345678", "GB29NWBK60161331926819")."""
    amount: str
    currency: str
    payee: str

    @property
    def challenge(self) -> str:
        text = f"{_DOMAIN}\n{self.amount}\n{self.currency}\n{self.payee}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def payment_to_sign(amount: str, currency: str, payee: str) -> PaymentToSign:
    """The canonical form of what is signed; NotSignable when a part is malformed."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise NotSignable(f"{amount!r} is not an amount") from None
    if not value.is_finite() or value <= 0 or not re.fullmatch(r"\d{1,13}(\.\d{1,5})?",
                                                                str(amount).strip()):
        raise NotSignable(f"{amount!r} is not an amount")
    currency = str(currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise NotSignable(f"{currency!r} is not a currency code")
    account = re.sub(r"[\s-]", "", str(payee or "")).upper()
    if not account or len(account) > 256 or not account.isascii() or not account.isprintable():
        raise NotSignable("the payee's account identification is missing or malformed")
    return PaymentToSign(_plain(value), currency, account)


def mandate_to_sign(maximum_amount: str, currency: str, payee: str) -> PaymentToSign:
    """What the customer signs to set up variable recurring payments: the payee and the
    MaximumIndividualAmount of the consent, in the form of a payment (same challenge).

    RTS (EU) 2018/389 art. 5(1) binds the code to "the amount of the payment transaction and
    the payee agreed to by the payer". A VRP consent has no one amount: each payment's is set
    later by the PISP, within limits. The payee is known and fixed (this bank requires the
    CreditorAccount in the consent), and the most any one payment can take is the
    MaximumIndividualAmount; binding to it is the analogue art. 5(3)(a) gives for an amount
    not known in advance ("specific to the amount that the payer has given consent to be
    blocked"): the customer authorises the ceiling of each transaction and its payee, and a
    code given for another ceiling or payee fails. The periodic limits and dates are shown on
    the page and kept in the signed digest of the consent (consent.screens.signed_digest), so
    that any change to them after the code was given sends the customer back to sign."""
    return payment_to_sign(maximum_amount, currency, payee)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def time_step(moment: datetime) -> int:
    return int(moment.timestamp()) // parse_suite(SUITE).time_step


def code_at(secret_base32: str, payment: PaymentToSign, moment: datetime) -> str:
    """The code the customer's authenticator shows for `payment` at `moment`."""
    return _code(_key(secret_base32), payment, time_step(moment))


def _code(key: bytes, payment: PaymentToSign, step: int) -> str:
    return ocra(SUITE, key, payment.challenge, time_steps=step)


def _key(secret_base32: str) -> bytes:
    return pyotp.TOTP(secret_base32).byte_secret()


def matching_step(secret_base32: str, payment: PaymentToSign, code: str,
                  now: datetime) -> int | None:
    """The time step (now, or one either side) whose code for `payment` is `code`; None when
    none is."""
    if len(code) != 6 or not code.isdigit() or not code.isascii():
        return None
    key, current = _key(secret_base32), time_step(now)
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(_code(key, payment, step), code):
            found = step if found is None else found
    return found


# --- the verify service ---------------------------------------------------------------------

def verify_signed_code(uow: UnitOfWork, psu: PsuUser, code: str, payment: PaymentToSign,
                       ip: str | None, now: datetime, *, replay: ReplayCache,
                       keyring: Keyring | None = None, known_device: bool = False) -> PsuUser:
    """Pass the payment's second factor: the code the customer's authenticator signed for
    exactly this amount, currency and payee (a step either side accepted, each code once).
    Raises InvalidCode or LoginLocked, like the TOTP step, after recording and counting the
    attempt; the caller commits either way. There is no fixed sandbox code for payments."""
    psu = services._locked_row(uow, PsuUser.id == psu.id)
    services._refuse_if_locked(uow, psu.username, psu, STEP, ip, now, overall=not known_device)
    code = "".join((code or "").split())
    if services.sandbox_sca_refused(psu) or not _signed_code_ok(
            psu, payment, code, now, replay, services._keyring(keyring, uow)):
        services._count_failure(uow, psu.username, psu, STEP, ip, now, InvalidCode())
    services._clear_failures(uow, psu.username, ip)
    services._record(uow, psu, psu.username, STEP, "success", ip, now)
    return psu


def _signed_code_ok(psu: PsuUser, payment: PaymentToSign, code: str, now: datetime,
                    replay: ReplayCache, keyring: Keyring) -> bool:
    try:
        secret = services.totp_secret(psu, keyring)
    except SealedValueError as error:
        services.log.error("TOTP secret of psu %s does not open: %s", psu.psu_id, error)
        return False
    step = matching_step(secret, payment, code, now)
    if step is None:
        return False
    return replay.first_use("psu-signed-code", f"{psu.psu_id}:{payment.challenge}:{step}",
                            SIGNED_CODE_REPLAY_TTL_SECONDS)
