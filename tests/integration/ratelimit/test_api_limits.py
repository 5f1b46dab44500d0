"""Rate limits of the Open Banking APIs per client and API family (aspsp.ratelimit), on an
embedded app (in-process counts) over SQLite and PostgreSQL: the standard tier of these tests
allows 3 calls a minute per family (premium 6), so every refusal below is the tier's."""
from __future__ import annotations

import pytest

from .conftest import FAMILY_CALLS, Tpp, refused


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["ratelimit", *args])


@pytest.mark.parametrize("family", sorted(FAMILY_CALLS))
def test_a_client_over_its_limit_gets_429_with_retry_after_and_the_ob_error_body(
        rl_app, clock, family):
    tpp = Tpp(rl_app, clock)
    answers = [tpp.call(family) for _ in range(3)]
    assert [a.status_code for a in answers if a.status_code == 429] == []
    if family in ("ais", "events"):      # real reads: the consent, the subscriptions
        assert [a.status_code for a in answers] == [200, 200, 200]

    body = refused(tpp.call(family))
    assert f"more than 3 per minute calls of the {family} APIs" in body["Errors"][0]["Message"]
    refused(tpp.call(family))             # and stays refused within the window


def test_one_clients_calls_do_not_limit_another_client(rl_app, clock):
    greedy, other = Tpp(rl_app, clock, "Greedy"), Tpp(rl_app, clock, "Other")
    for _ in range(3):
        assert greedy.call("ais").status_code == 200
    refused(greedy.call("ais"))

    assert [other.call("ais").status_code for _ in range(3)] == [200, 200, 200]
    refused(other.call("ais"))


def test_each_api_family_is_counted_apart(rl_app, clock):
    tpp = Tpp(rl_app, clock)
    for _ in range(3):
        tpp.call("ais")
    refused(tpp.call("ais"))

    assert tpp.call("events").status_code == 200      # another family: its own budget
    assert tpp.call("pis").status_code != 429
    assert tpp.call("vrp").status_code != 429          # VRP is not PIS, though both are /pisp
    refused(tpp.call("ais"))


def test_a_burst_allowance_set_by_the_operator_adds_calls_to_the_window(rl_app, clock):
    tpp = Tpp(rl_app, clock)
    result = cli(rl_app, "set", tpp.client_id, "--burst", "2")
    assert result.exit_code == 0, result.output
    assert "burst: 2" in result.output and "ais     5 per minute" in result.output

    assert [tpp.call("ais").status_code for _ in range(5)] == [200] * 5
    refused(tpp.call("ais"))


def test_the_premium_tier_set_by_the_operator_holds_from_the_next_call(rl_app, clock):
    tpp = Tpp(rl_app, clock)
    for _ in range(3):
        tpp.call("cof")
    refused(tpp.call("cof"))

    result = cli(rl_app, "set", tpp.client_id, "--tier", "premium")
    assert result.exit_code == 0, result.output
    assert "tier: premium\n" in result.output

    assert [tpp.call("pis").status_code != 429 for _ in range(6)] == [True] * 6
    refused(tpp.call("pis"))

    # Back to the default tier: its 3 a minute again.
    assert cli(rl_app, "set", tpp.client_id, "--reset").exit_code == 0
    shown = cli(rl_app, "show", tpp.client_id).output
    assert "tier: standard (default)" in shown and "burst: 0" in shown


def test_the_operator_commands_show_list_and_refuse_what_cannot_be(rl_app, clock):
    tpp = Tpp(rl_app, clock, "Listed TPP")
    assert cli(rl_app, "set", tpp.client_id, "--tier", "premium", "--burst", "7").exit_code == 0

    shown = cli(rl_app, "show", tpp.client_id)
    assert shown.exit_code == 0
    assert f"client {tpp.client_id} (Listed TPP)" in shown.output
    assert "tier: premium\n" in shown.output and "burst: 7" in shown.output
    assert "oauth   11 per minute" in shown.output        # premium's 4 + the burst

    listed = cli(rl_app, "list").output
    assert f"{tpp.client_id}\tpremium\tburst 7\tListed TPP" in listed

    unknown = cli(rl_app, "show", "no-such-client")
    assert unknown.exit_code == 1 and "no registered client 'no-such-client'" in unknown.output
    assert cli(rl_app, "set", "no-such-client", "--tier", "premium").exit_code == 1
    assert cli(rl_app, "set", tpp.client_id, "--tier", "gold").exit_code == 2
    assert cli(rl_app, "set", tpp.client_id, "--burst", "-1").exit_code == 2
    assert cli(rl_app, "set", tpp.client_id).exit_code == 2


def test_a_call_with_no_valid_token_is_not_counted_against_the_client(rl_app, clock):
    tpp = Tpp(rl_app, clock)
    good = tpp.tokens["accounts"]
    tpp.tokens["accounts"] = "not-a-token"
    for _ in range(5):
        assert tpp.call("events").status_code == 401
    tpp.tokens["accounts"] = good
    assert [tpp.call("events").status_code for _ in range(3)] == [200, 200, 200]
