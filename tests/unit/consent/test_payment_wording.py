"""How the payment approval page says amounts, accounts and OBIE frequency codes."""
from __future__ import annotations

import pytest

from consent import wording


@pytest.mark.parametrize("amount,currency,expected", [
    ("12.5", "GBP", "£12.50"), ("12.50", "GBP", "£12.50"), ("1000", "EUR", "€1,000.00"),
    ("-3.2", "GBP", "-£3.20"), ("1000000", "JPY", "JP¥1,000,000"),
    # never rounded, never guessed: shown as sent
    ("12.345", "GBP", "12.345 GBP"), ("100.5", "JPY", "100.5 JPY"), ("5", "XYZ", "5 XYZ"),
    ("abc", "GBP", "abc GBP"), ("NaN", "GBP", "NaN GBP"), (None, "GBP", "—")])
def test_money(amount, currency, expected):
    assert wording.money(amount, currency) == expected


@pytest.mark.parametrize("scheme,identification,expected", [
    ("UK.OBIE.SortCodeAccountNumber", "12345612345678", "12-34-56 12345678"),
    ("SortCodeAccountNumber", "12345612345678", "12-34-56 12345678"),
    ("UK.OBIE.IBAN", "gb29nwbk60161331926819", "GB29 NWBK 6016 1331 9268 19"),
    ("UK.OBIE.IBAN", "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00"),
    ("UK.OBIE.SortCodeAccountNumber", "1234", "1234"),
    ("UK.OBIE.PAN", "5409050000000000", "5409050000000000")])
def test_account_number(scheme, identification, expected):
    assert wording.account_number(scheme, identification) == expected


@pytest.mark.parametrize("code,expected", [
    ("EvryDay", "Every day"),
    ("EvryWorkgDay", "Every working day"),
    ("IntrvlDay:14", "Every 14 days"),
    ("IntrvlWkDay:01:01", "Every week on Monday"),
    ("IntrvlWkDay:02:05", "Every 2 weeks on Friday"),
    ("IntrvlWkDay:09:07", "Every 9 weeks on Sunday"),
    ("WkInMnthDay:01:03", "Every month on the first Wednesday"),
    ("WkInMnthDay:05:06", "Every month on the fifth Saturday"),
    ("IntrvlMnthDay:01:01", "Every month on the 1st"),
    ("IntrvlMnthDay:01:22", "Every month on the 22nd"),
    ("IntrvlMnthDay:03:13", "Every 3 months on the 13th"),
    ("IntrvlMnthDay:06:-01", "Every 6 months on the last day"),
    ("IntrvlMnthDay:12:-03", "Every 12 months on the 3rd to last day"),
    ("IntrvlMnthDay:24:31", "Every 24 months on the 31st"),
    ("QtrDay:ENGLISH", "Every quarter on 25 March, 24 June, 29 September and 25 December "
                       "(the English quarter days)"),
    ("QtrDay:SCOTTISH", "Every quarter on 2 February, 15 May, 1 August and 11 November "
                        "(the Scottish quarter days)"),
    ("QtrDay:RECEIVED", "Every quarter on 20 March, 19 June, 24 September and 20 December"),
])
def test_frequency_in_words(code, expected):
    assert wording.frequency(code) == expected


@pytest.mark.parametrize("code", ["IntrvlWkDay:10:01", "IntrvlMnthDay:07:01", "QtrDay:WELSH",
                                  "WkInMnthDay:06:01", "", None])
def test_a_frequency_that_does_not_parse_is_shown_as_sent(code):
    assert wording.frequency(code) == (code or "")
