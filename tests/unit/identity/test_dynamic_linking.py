"""Dynamic linking: the OCRA construction against RFC 6287's own test vectors (appendix C),
then the binding of a payment's code to its amount, currency and payee."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from aspsp.identity import dynamic_linking as dl

KEY20 = bytes.fromhex("3132333435363738393031323334353637383930")
KEY32 = bytes.fromhex("3132333435363738393031323334353637383930313233343536373839303132")
KEY64 = bytes.fromhex("3132333435363738393031323334353637383930313233343536373839303132"
                      "3334353637383930313233343536373839303132333435363738393031323334")
PIN_1234_SHA1 = hashlib.sha1(b"1234").digest()
T = int("132d0b6", 16)      # the RFC's timestamp: 20 March 2008, 13:00 UTC in minutes


@pytest.mark.parametrize("question,expected", [
    ("00000000", "237653"), ("11111111", "243178"), ("22222222", "653583"),
    ("33333333", "740991"), ("44444444", "608993"), ("55555555", "388898"),
    ("66666666", "816933"), ("77777777", "224598"), ("88888888", "750600"),
    ("99999999", "294470")])
def test_rfc6287_one_way_sha1_qn08(question, expected):
    assert dl.ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, question) == expected


@pytest.mark.parametrize("counter,expected", list(enumerate([
    "65347737", "86775851", "78192410", "71565254", "10104329", "65983500", "70069104",
    "91771096", "75011558", "08522129"])))
def test_rfc6287_counter_and_pin(counter, expected):
    assert dl.ocra("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KEY32, "12345678", counter=counter,
                   password_hash=PIN_1234_SHA1) == expected


@pytest.mark.parametrize("question,expected", [
    ("00000000", "83238735"), ("11111111", "01501458"), ("22222222", "17957585"),
    ("33333333", "86776967"), ("44444444", "86807031")])
def test_rfc6287_pin_without_counter(question, expected):
    assert dl.ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, question,
                   password_hash=PIN_1234_SHA1) == expected


@pytest.mark.parametrize("counter,expected", list(enumerate([
    "07016083", "63947962", "70123924", "25341727", "33203315", "34205738", "44343969",
    "51946085", "20403879", "31409299"])))
def test_rfc6287_sha512_counter(counter, expected):
    question = str(counter) * 8
    assert dl.ocra("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, question, counter=counter) == expected


@pytest.mark.parametrize("question,expected", [
    ("00000000", "95209754"), ("11111111", "55907591"), ("22222222", "22048402"),
    ("33333333", "24218844"), ("44444444", "36209546")])
def test_rfc6287_time_based(question, expected):
    assert dl.ocra("OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, question, time_steps=T) == expected


@pytest.mark.parametrize("question,expected", [
    ("SIG10000", "53095496"), ("SIG11000", "04110475"), ("SIG12000", "31331128"),
    ("SIG13000", "76028668"), ("SIG14000", "46554205")])
def test_rfc6287_plain_signature(question, expected):
    assert dl.ocra("OCRA-1:HOTP-SHA256-8:QA08", KEY32, question) == expected


@pytest.mark.parametrize("question,expected", [
    ("SIG1000000", "77537423"), ("SIG1100000", "31970405"), ("SIG1200000", "10235557"),
    ("SIG1300000", "95213541"), ("SIG1400000", "65360607")])
def test_rfc6287_signature_with_time(question, expected):
    assert dl.ocra("OCRA-1:HOTP-SHA512-8:QA10-T1M", KEY64, question, time_steps=T) == expected


def test_the_suite_in_use_parses_as_the_rfc_says():
    suite = dl.parse_suite(dl.SUITE)
    assert (suite.hash_name, suite.digits, suite.question_format, suite.question_length,
            suite.time_step, suite.counter) == ("SHA256", 6, "H", 64, 30, False)


@pytest.mark.parametrize("text", ["OCRA-2:HOTP-SHA1-6:QN08", "OCRA-1:HOTP-SHA3-6:QN08",
                                  "OCRA-1:HOTP-SHA1-3:QN08", "OCRA-1:HOTP-SHA1-6:QX08",
                                  "OCRA-1:HOTP-SHA1-6:QN03", "OCRA-1:HOTP-SHA1-6:QN65",
                                  "OCRA-1:HOTP-SHA1-6:QN08-T100M", "OCRA-1:HOTP-SHA1-6:C",
                                  "OCRA-1:HOTP-SHA1-6:QN08-PSHA3", ""])
def test_malformed_suites_are_refused(text):
    with pytest.raises(dl.InvalidSuite):
        dl.parse_suite(text)


def test_a_suite_input_that_is_missing_is_refused():
    with pytest.raises(ValueError):
        dl.ocra("OCRA-1:HOTP-SHA1-6:QN08-T1M", KEY20, "12345678")
    with pytest.raises(ValueError):
        dl.ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, "1234567890")      # longer than 8
    with pytest.raises(ValueError):
        dl.ocra("OCRA-1:HOTP-SHA1-6:QH08", KEY20, "XYZ")


# --- the payment's binding -------------------------------------------------------------------

SECRET = "ALICESANDBOXTOTPSECRETKEY2345AAA"
NOW = datetime(2026, 6, 15, 12, 0, 10, tzinfo=timezone.utc)
PAY = dl.payment_to_sign("12.50", "GBP", "12-34-56 12345678")


def test_the_canonical_payment_ignores_formatting_only():
    assert PAY == dl.PaymentToSign("12.5", "GBP", "12345612345678")
    assert dl.payment_to_sign("12.500", "gbp", "12345612345678") == PAY
    assert dl.payment_to_sign("100", "GBP", "x").amount == "100"
    assert dl.payment_to_sign("100.00", "GBP", "x").amount == "100"
    assert dl.payment_to_sign("1", "EUR", "gb29 nwbk 6016 1331 9268 19").payee == \
        "GB29NWBK60161331926819"
    assert len(PAY.challenge) == 64 and int(PAY.challenge, 16) >= 0


@pytest.mark.parametrize("amount,currency,payee", [
    ("0", "GBP", "1"), ("-1", "GBP", "1"), ("1e3", "GBP", "1"), ("12.345678", "GBP", "1"),
    ("abc", "GBP", "1"), ("1", "GB", "1"), ("1", "GBP", ""), ("1", "GBP", "12\x00")])
def test_malformed_payments_cannot_be_signed(amount, currency, payee):
    with pytest.raises(dl.NotSignable):
        dl.payment_to_sign(amount, currency, payee)


def test_the_code_is_the_ocra_response_to_the_payments_challenge():
    step = int(NOW.timestamp()) // 30
    import pyotp
    key = pyotp.TOTP(SECRET).byte_secret()
    assert dl.code_at(SECRET, PAY, NOW) == dl.ocra(dl.SUITE, key, PAY.challenge,
                                                   time_steps=step)
    assert dl.matching_step(SECRET, PAY, dl.code_at(SECRET, PAY, NOW), NOW) == step


def test_a_code_is_bound_to_the_amount_the_currency_and_the_payee():
    code = dl.code_at(SECRET, PAY, NOW)
    assert dl.matching_step(SECRET, PAY, code, NOW) is not None
    for other in (dl.payment_to_sign("12.51", "GBP", "12345612345678"),
                  dl.payment_to_sign("1250", "GBP", "12345612345678"),
                  dl.payment_to_sign("12.50", "EUR", "12345612345678"),
                  dl.payment_to_sign("12.50", "GBP", "12345612345679"),
                  dl.payment_to_sign("12.50", "GBP", "GB29NWBK60161331926819")):
        assert dl.code_at(SECRET, other, NOW) != code or other == PAY
        assert dl.matching_step(SECRET, other, code, NOW) is None


def test_the_plain_totp_is_not_a_payments_code():
    import pyotp
    assert dl.matching_step(SECRET, PAY, pyotp.TOTP(SECRET).at(NOW), NOW) is None


def test_one_step_either_side_and_no_further():
    for offset, accepted in ((-60, False), (-30, True), (0, True), (30, True), (60, False)):
        code = dl.code_at(SECRET, PAY, NOW + timedelta(seconds=offset))
        assert (dl.matching_step(SECRET, PAY, code, NOW) is not None) is accepted, offset


def test_another_customers_secret_gives_another_code():
    assert dl.code_at("OWENSANDBOXTOTPSECRETKEY2345AAAA", PAY, NOW) != \
        dl.code_at(SECRET, PAY, NOW)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "１２３４５６"])
def test_malformed_codes_match_nothing(code):
    assert dl.matching_step(SECRET, PAY, code, NOW) is None
