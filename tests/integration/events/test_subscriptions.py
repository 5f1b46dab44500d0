"""POST/GET/PUT/DELETE /open-banking/v3.1/event-subscriptions: one subscription per client,
client-credentials tokens of any of the three scopes with the matching role, signed requests,
and every refusal with the spec's status and OB code."""
from __future__ import annotations

import pytest

from aspsp import outbound
from aspsp.events import services
from aspsp.events.errors import InvalidSubscription
from tests.integration.events.conftest import SUBSCRIPTIONS

CALLBACK = "https://tpp.example/open-banking/v3.1/event-notifications"


def codes(response) -> list[str]:
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]


def test_create_read_change_and_delete_the_subscription(tpp):
    token = tpp.token()
    created = tpp.call("POST", SUBSCRIPTIONS, token=token, json={"Data": {
        "CallbackUrl": CALLBACK, "Version": "3.1",
        "EventTypes": ["urn:uk:org:openbanking:events:resource-update"]}})
    assert created.status_code == 201, created.get_json()
    assert created.headers["x-jws-signature"]               # a signed response
    data = created.get_json()["Data"]
    subscription_id = data["EventSubscriptionId"]
    assert data == {"EventSubscriptionId": subscription_id, "CallbackUrl": CALLBACK,
                    "Version": "3.1",
                    "EventTypes": ["urn:uk:org:openbanking:events:resource-update"]}
    assert created.get_json()["Links"]["Self"].endswith(f"{SUBSCRIPTIONS}/{subscription_id}")

    listed = tpp.call("GET", SUBSCRIPTIONS, token=token)
    assert listed.status_code == 200
    assert listed.get_json()["Data"]["EventSubscription"] == [data]

    changed = tpp.call("PUT", f"{SUBSCRIPTIONS}/{subscription_id}", token=token, json={
        "Data": {"EventSubscriptionId": subscription_id, "Version": "3.1.11"}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["Data"] == {"EventSubscriptionId": subscription_id,
                                          "Version": "3.1.11"}   # polling only, every type

    deleted = tpp.call("DELETE", f"{SUBSCRIPTIONS}/{subscription_id}", token=token)
    assert deleted.status_code == 204
    assert tpp.call("GET", SUBSCRIPTIONS, token=token).get_json()["Data"] == {
        "EventSubscription": []}


def test_a_second_subscription_is_409_resource_already_exists(tpp):
    tpp.subscribe(CALLBACK)
    again = tpp.call("POST", SUBSCRIPTIONS, token=tpp.token(), json={"Data": {"Version": "3.1"}})
    assert again.status_code == 409
    assert codes(again) == ["UK.OBIE.Rules.ResourceAlreadyExists"]


def test_any_of_the_three_scopes_with_its_role(make_events_tpp):
    pisp = make_events_tpp(roles=("PISP",))
    assert pisp.call("POST", SUBSCRIPTIONS, token=pisp.token(scope="payments"),
                     json={"Data": {"Version": "3.1"}}).status_code == 201
    cbpii = make_events_tpp(roles=("CBPII",))
    assert cbpii.call("GET", SUBSCRIPTIONS,
                      token=cbpii.token(scope="fundsconfirmations")).status_code == 200


def test_refused_without_a_scope_role_or_client_credentials_token(make_events_tpp, customer):
    aisp = make_events_tpp(roles=("AISP",))
    no_role = aisp.call("GET", SUBSCRIPTIONS, token=aisp.token(scope="payments"))
    assert no_role.status_code == 403
    assert codes(no_role) == ["UK.InvisibleBank.Client.RoleMissing"]
    no_scope = aisp.call("GET", SUBSCRIPTIONS, token=aisp.token(scope="openid"))
    assert no_scope.status_code == 403
    assert codes(no_scope) == ["UK.InvisibleBank.Token.InsufficientScope"]
    assert aisp.call("GET", SUBSCRIPTIONS).status_code == 401
    customer_token = aisp.token(grant_type="authorization_code", psu=customer.psu)
    wrong_grant = aisp.call("GET", SUBSCRIPTIONS, token=customer_token)
    assert wrong_grant.status_code == 403
    assert codes(wrong_grant) == ["UK.InvisibleBank.Token.WrongGrantType"]


def test_the_subscription_post_must_be_signed(tpp):
    response = tpp.call("POST", SUBSCRIPTIONS, token=tpp.token(),
                        json={"Data": {"Version": "3.1"}}, sign=False)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Signature.Missing"]


def test_bad_input_gets_the_spec_400s(tpp):
    def post(data):
        return tpp.call("POST", SUBSCRIPTIONS, token=tpp.token(), json={"Data": data})

    unsupported = post({"Version": "3.1", "EventTypes": ["urn:example:made-up"]})
    assert unsupported.status_code == 400
    assert codes(unsupported) == ["UK.OBIE.Unsupported.EventType"]
    assert unsupported.get_json()["Errors"][0]["Path"] == "Data.EventTypes[0]"

    version = post({"Version": "9.9"})
    assert version.status_code == 400 and codes(version) == ["UK.OBIE.Field.Invalid"]

    missing = post({"CallbackUrl": CALLBACK})
    assert missing.status_code == 400 and codes(missing) == ["UK.OBIE.Field.Missing"]

    for url in ("ftp://tpp.example/open-banking/v3.1/event-notifications",
                "https://tpp.example/somewhere-else",
                "https://user:pw@tpp.example/open-banking/v3.1/event-notifications",
                "https://tpp.example/open-banking/v3.1/event-notifications?x=1",
                "not a url"):
        bad = post({"Version": "3.1", "CallbackUrl": url})
        assert bad.status_code == 400, url
        assert codes(bad) == ["UK.OBIE.Field.Invalid"], url
        assert bad.get_json()["Errors"][0]["Path"] == "Data.CallbackUrl"

    unknown_field = post({"Version": "3.1", "Url": CALLBACK})
    assert unknown_field.status_code == 400
    assert tpp.call("GET", SUBSCRIPTIONS, token=tpp.token()).get_json()["Data"] == {
        "EventSubscription": []}


def test_http_callbacks_only_in_the_sandbox(tpp, app, platform):
    """The schemes come from the outbound policy: https only, plus http in the sandbox."""
    loopback = "http://127.0.0.1:9/open-banking/v3.1/event-notifications"
    production = outbound.policy_from_config({"SANDBOX_ENABLED": False}).schemes
    with app.app_context(), platform.uow() as uow:
        with pytest.raises(InvalidSubscription) as refused:
            services.create_subscription(uow, tpp.client.row.id, services.SubscriptionRequest(
                loopback, "3.1", None), platform.clock.now(), schemes=production)
    assert [(p.path, p.code) for p in refused.value.problems] == [("Data.CallbackUrl",
                                                                    "invalid")]
    assert tpp.call("POST", SUBSCRIPTIONS, token=tpp.token(),
                    json={"Data": {"Version": "3.1", "CallbackUrl": loopback}}
                    ).status_code == 201


def test_another_clients_subscription_is_not_found(make_events_tpp):
    owner, other = make_events_tpp(), make_events_tpp(name="Other")
    subscription_id = owner.subscribe(CALLBACK)
    other.subscribe()
    path = f"{SUBSCRIPTIONS}/{subscription_id}"
    for response in (other.call("DELETE", path, token=other.token()),
                     other.call("PUT", path, token=other.token(), json={"Data": {
                         "EventSubscriptionId": subscription_id, "Version": "3.1"}})):
        assert response.status_code == 400
        assert codes(response) == ["UK.OBIE.Resource.NotFound"]
    assert owner.call("GET", SUBSCRIPTIONS, token=owner.token()).get_json()["Data"][
        "EventSubscription"][0]["CallbackUrl"] == CALLBACK


def test_put_with_another_id_in_the_body_is_refused(tpp):
    subscription_id = tpp.subscribe(CALLBACK)
    response = tpp.call("PUT", f"{SUBSCRIPTIONS}/{subscription_id}", token=tpp.token(),
                        json={"Data": {"EventSubscriptionId": "other", "Version": "3.1"}})
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Field.Invalid"]
