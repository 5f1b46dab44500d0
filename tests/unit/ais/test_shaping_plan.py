"""The transaction shaping compiled per permission set gives, for every row and every
permission set, the very dict the generic build-and-clean gave (the same keys in the same
order, so the same JSON bytes): the old one is kept as the reference in reference_shaping.py.
"""
from datetime import datetime, timedelta, timezone
from itertools import product
from types import SimpleNamespace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from aspsp.ais import shaping
from aspsp.ais.repository import PostingRow
from aspsp.ais.shaping import View
from consent.permissions import Permission as P

from . import reference_shaping

BASIC, DETAIL = P.READ_TRANSACTIONS_BASIC, P.READ_TRANSACTIONS_DETAIL
# Every permission set a transaction list can be read with: Basic or Detail, credits,
# debits or both, with and without ReadPAN (and other permissions that change nothing here).
PERMISSION_SETS = [
    {level, *directions, *pan, *other}
    for level in (BASIC, DETAIL)
    for directions in ([P.READ_TRANSACTIONS_CREDITS], [P.READ_TRANSACTIONS_DEBITS],
                       [P.READ_TRANSACTIONS_CREDITS, P.READ_TRANSACTIONS_DEBITS])
    for pan in ([], [P.READ_PAN])
    for other in ([], [P.READ_ACCOUNTS_DETAIL, P.READ_BALANCES])]
VIEWS = [View.of(permissions) for permissions in PERMISSION_SETS]


def _repeat(alphabet: str, most: int):
    """Text up to `most` characters, long enough to be cut at every OBIE limit."""
    return st.builds(lambda chars, n: "".join(chars) * n,
                     st.lists(st.sampled_from(alphabet), min_size=1, max_size=3),
                     st.integers(0, most))


TEXT = st.one_of(st.none(), st.sampled_from(["", " ", "  x ", "REF-1", "UK.OBIE.PAN"]),
                 st.text(max_size=12), _repeat(" aé7*", 600))
JSON_VALUE = st.one_of(TEXT, st.integers(-10**6, 10**6), st.booleans(), st.just([]),
                       st.just({}), st.floats(allow_nan=False, allow_infinity=False))
SCHEMES = st.sampled_from(["UK.OBIE.PAN", "UK.OBIE.SortCodeAccountNumber", "UK.OBIE.IBAN",
                           " UK.OBIE.PAN ", "UK.OBIE.BICFI", ""])
PAN_TEXT = st.one_of(st.none(), st.sampled_from(["4658581234567890", "465858******1234",
                                                 "4658 5812 3456 7890", "123", "", "   "]),
                     _repeat("0123456789 ", 300))
ACCOUNT = st.fixed_dictionaries({}, optional={
    "SchemeName": st.one_of(SCHEMES, JSON_VALUE), "Identification": st.one_of(PAN_TEXT, TEXT),
    "Name": st.one_of(TEXT, JSON_VALUE), "SecondaryIdentification": TEXT, "Other": JSON_VALUE})
AGENT = st.fixed_dictionaries({}, optional={
    "SchemeName": st.one_of(SCHEMES, TEXT), "Identification": TEXT,
    "Name": st.one_of(TEXT, JSON_VALUE)})
COUNTERPARTY = st.one_of(
    st.none(), st.just([]), st.text(max_size=3),
    st.fixed_dictionaries({}, optional={
        "CreditorAccount": st.one_of(ACCOUNT, JSON_VALUE),
        "CreditorName": st.one_of(TEXT, JSON_VALUE),
        "CreditorAgent": st.one_of(AGENT, JSON_VALUE), "DebtorAgent": st.one_of(AGENT, JSON_VALUE),
        "DebtorAccount": st.one_of(ACCOUNT, JSON_VALUE)}))
CARD = st.one_of(
    st.none(), st.just([]), st.just("VISA"),
    st.fixed_dictionaries({}, optional={
        "CardSchemeName": st.one_of(st.sampled_from(["VISA", "MasterCard", ""]), JSON_VALUE),
        "AuthorisationType": st.one_of(st.sampled_from(["PIN", "ConsumerDevice"]), JSON_VALUE),
        "Name": st.one_of(TEXT, st.integers()), "Identification": PAN_TEXT}))
WHEN = st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1),
                                         max_value=datetime(2030, 1, 1),
                                         timezones=st.just(timezone.utc)))
MINOR = st.one_of(st.integers(-10**12, 10**12), st.sampled_from([0, -1, 1, 99, -100, 2**62]))
ROW = st.builds(
    lambda **kw: PostingRow(**kw),
    id=st.integers(1, 10**9), transaction_id=st.one_of(st.uuids().map(str), st.none()),
    entry_pk=st.just(1), account_pk=st.just(1), amount_minor=MINOR,
    currency=st.sampled_from(["GBP", "EUR", "JPY", "BHD"]),
    status=st.one_of(st.sampled_from(["Booked", "Pending", ""]), st.none()),
    booking_datetime=WHEN, value_datetime=WHEN,
    balance_after_minor=st.one_of(st.none(), MINOR), transaction_reference=TEXT,
    statement_reference=TEXT, transaction_information=TEXT,
    iso_code=st.one_of(st.none(), st.sampled_from(["", "ReceivedCreditTransfers"])),
    iso_subcode=st.one_of(st.none(), st.sampled_from(["", "DomesticCreditTransfer"])),
    proprietary_code=TEXT, proprietary_issuer=TEXT, merchant_name=TEXT,
    merchant_category_code=st.one_of(st.none(), st.sampled_from(["", "59", "5942", "594"]),
                                     st.text(max_size=6)),
    counterparty=COUNTERPARTY, card_instrument=CARD)


def _shaped(shape, row, account_id, view):
    """The JSON bytes a page would carry (orjson keeps the dict's key order), or the
    exception's type: the two must fail alike on what they cannot shape."""
    try:
        return orjson.dumps(shape(row, account_id, view))
    except Exception as error:   # noqa: BLE001 - compared, not swallowed
        return type(error)


def _compiled(row, account_id, view):
    return shaping.transaction_plan(view)(row, account_id)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=ROW, view=st.sampled_from(VIEWS),
       account_id=st.one_of(st.uuids().map(str), st.none()))
def test_the_plan_gives_the_same_bytes_as_the_generic_shaping(row, view, account_id):
    expected = _shaped(reference_shaping.transaction, row, account_id, view)
    assert _shaped(_compiled, row, account_id, view) == expected
    assert _shaped(shaping.transaction, row, account_id, view) == expected


# Every combination of the values that decide which fields appear, exhaustively: present,
# empty, blank or absent, over every permission set.
_FIELDS = {
    "transaction_reference": [None, "", "  ", "INV-1", "x" * 300],
    "statement_reference": [None, " ", "S1", "y" * 40],
    "amount_minor": [0, -1, 12345],
    "balance_after_minor": [None, 0, -500],
    "value_datetime": [None, datetime(2026, 1, 2, tzinfo=timezone.utc)],
    "iso": [(None, None), ("ReceivedCreditTransfers", None), ("A", "B")],
    "proprietary": [(None, None), ("", "Bank"), ("  ", "  "), ("POS", None), ("POS", "Bank")],
    "card_instrument": [None, {"CardSchemeName": ""},
                        {"CardSchemeName": "VISA", "AuthorisationType": "PIN",
                         "Name": " NAME ", "Identification": "465858******1234"}],
    "merchant": [(None, None), ("  ", "59"), ("Waterstones", "5942")],
    "counterparty": [None, {}, {"CreditorName": "Acme"}, {"CreditorName": "   "},
                     {"CreditorAccount": {"SchemeName": "UK.OBIE.PAN",
                                          "Identification": "4658581234567890"},
                      "DebtorAgent": {"SchemeName": "UK.OBIE.BICFI", "Identification": "X"},
                      "CreditorAgent": {"Name": "  "}},
                     {"DebtorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                        "Identification": "20000012345678", "Name": "Acme"}}],
}


_BASE = dict(id=1, transaction_id="t1", entry_pk=1, account_pk=1, currency="GBP",
             status="Booked", booking_datetime=datetime(2026, 1, 1, tzinfo=timezone.utc),
             transaction_information="WATERSTONES LEEDS", transaction_reference="INV-1",
             statement_reference=None, amount_minor=-1234, balance_after_minor=-500,
             value_datetime=None, iso=(None, None), proprietary=(None, None),
             card_instrument=None, merchant=(None, None), counterparty=None)
# The fields whose presence interacts (codes, card, merchant, counterparty, balance) in every
# combination with each other; the plain text, amount and time fields in every combination
# with each other; each group with the other at the base row's values.
_GROUPS = (("iso", "proprietary", "card_instrument", "merchant", "counterparty",
            "balance_after_minor"),
           ("transaction_reference", "statement_reference", "amount_minor", "value_datetime"))


def _rows():
    for group in _GROUPS:
        for values in product(*(_FIELDS[name] for name in group)):
            chosen = {**_BASE, **dict(zip(group, values))}
            iso, proprietary, merchant = chosen.pop("iso"), chosen.pop("proprietary"), \
                chosen.pop("merchant")
            yield PostingRow(**chosen, iso_code=iso[0], iso_subcode=iso[1],
                             proprietary_code=proprietary[0], proprietary_issuer=proprietary[1],
                             merchant_name=merchant[0], merchant_category_code=merchant[1])


def test_the_plan_gives_the_same_bytes_for_every_combination_and_permission_set():
    compared = 0
    for row in _rows():
        for view in VIEWS:
            assert _shaped(_compiled, row, "acc-1", view) == \
                _shaped(reference_shaping.transaction, row, "acc-1", view), (row, view)
            compared += 1
    assert compared == (3 * 5 * 3 * 3 * 6 * 3 + 5 * 4 * 3 * 2) * len(VIEWS)


def test_plain_objects_shape_as_named_tuples_do():
    """Rows are PostingRows on the page, anything with the attributes elsewhere."""
    row = next(_rows())
    plain = SimpleNamespace(**row._asdict())
    for view in VIEWS:
        assert _shaped(_compiled, plain, "a", view) == _shaped(_compiled, row, "a", view)


def test_one_plan_per_permission_set_that_changes_the_fields():
    plans = {id(shaping.transaction_plan(view)) for view in VIEWS}
    assert len(plans) == 4            # Basic or Detail, with or without ReadPAN
    detail = View.of({DETAIL, P.READ_TRANSACTIONS_DEBITS})
    assert shaping.transaction_plan(detail) is shaping.transaction_plan(
        View.of({DETAIL, P.READ_TRANSACTIONS_CREDITS, P.READ_BALANCES}))


@pytest.mark.parametrize("view", VIEWS[:1])
def test_a_row_the_shaping_cannot_read_fails_alike(view):
    row = SimpleNamespace(**{**next(_rows())._asdict(), "amount_minor": None})
    assert _shaped(_compiled, row, "a", view) is TypeError
    assert _shaped(reference_shaping.transaction, row, "a", view) is TypeError
