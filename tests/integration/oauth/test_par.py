"""Pushed authorization requests (RFC 9126) and the authorization endpoint's use of them."""
from datetime import timedelta

from tests.oauth_tpp import pkce_verifier


def _push(tpp, consent_id, **overrides):
    return tpp.par(tpp.request_params(consent_id, verifier=pkce_verifier(), **overrides))


def _authorize(tpp, request_uri):
    return tpp.http.get("/authorize", query_string={"client_id": tpp.client_id,
                                                    "request_uri": request_uri})


def test_pushed_request_leads_to_the_customer_journey(tpp, consent_for):
    response = _push(tpp, consent_for(tpp))
    assert response.status_code == 201, response.json
    assert response.json["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < response.json["expires_in"] < 600
    authorize = _authorize(tpp, response.json["request_uri"])
    assert authorize.status_code == 303
    assert authorize.headers["Location"].startswith("/psu/authorize/")


def test_request_uri_reused_by_its_own_browser_resumes_the_same_journey(tpp, consent_for):
    """FAPI 2.0 SP 5.3.2.2 note 3: a reload before the decision is not a second request."""
    request_uri = _push(tpp, consent_for(tpp)).json["request_uri"]
    first = _authorize(tpp, request_uri)
    assert first.status_code == 303
    again = _authorize(tpp, request_uri)
    assert again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]


def test_request_uri_opened_first_elsewhere_still_leads_the_customer_to_the_same_journey(
        tpp, consent_for, app):
    """A link scanner with its own cookies may open the link before the customer: until
    someone signs in, that burns nothing (the refusal once a customer has signed in is in
    tests/integration/psu_web/test_request_uri_lifecycle.py)."""
    request_uri = _push(tpp, consent_for(tpp)).json["request_uri"]
    first = _authorize(tpp, request_uri)
    assert first.status_code == 303
    elsewhere = app.test_client().get("/authorize", query_string={
        "client_id": tpp.client_id, "request_uri": request_uri})
    assert elsewhere.status_code == 303
    assert elsewhere.headers["Location"] == first.headers["Location"]


def test_expired_request_uri_is_refused(tpp, consent_for, clock):
    request_uri = _push(tpp, consent_for(tpp)).json["request_uri"]
    clock.advance(timedelta(seconds=91))
    response = _authorize(tpp, request_uri)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_request_uri_of_another_client_is_refused(tpp, fapi1_tpp, consent_for):
    request_uri = _push(tpp, consent_for(tpp)).json["request_uri"]
    response = _authorize(fapi1_tpp, request_uri)
    assert response.status_code == 400
    assert "invalid_request_uri" in response.get_data(as_text=True)


def test_fapi2_client_must_use_par(tpp, consent_for):
    params = tpp.request_params(consent_for(tpp), verifier=pkce_verifier())
    response = tpp.http.get("/authorize", query_string={
        "client_id": tpp.client_id, "request": tpp.request_object(params)})
    assert response.status_code == 400
    assert "PAR" in response.get_data(as_text=True)


def test_par_needs_client_authentication(tpp, consent_for):
    params = tpp.request_params(consent_for(tpp), verifier=pkce_verifier())
    params["claims"] = str(params["claims"])
    response = tpp.http.post("/par", data=params)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_unregistered_redirect_uri(tpp, consent_for):
    response = _push(tpp, consent_for(tpp), redirect_uri="https://evil.example/cb")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert "redirect_uri" in response.json["error_description"]


def test_redirect_uri_must_match_exactly(tpp, consent_for):
    response = _push(tpp, consent_for(tpp), redirect_uri="https://tpp.example/callback/")
    assert response.json["error"] == "invalid_request"


def test_pkce_is_required(tpp, consent_for):
    response = _push(tpp, consent_for(tpp), code_challenge=None, code_challenge_method=None)
    assert response.status_code == 400
    assert "PKCE" in response.json["error_description"]


def test_pkce_plain_is_refused(tpp, consent_for):
    response = _push(tpp, consent_for(tpp), code_challenge="x" * 43,
                     code_challenge_method="plain")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_intent_id_of_another_clients_consent(tpp, fapi1_tpp, consent_for):
    other = consent_for(fapi1_tpp)
    response = _push(tpp, other)
    assert response.status_code == 400
    assert "openbanking_intent_id" in response.json["error_description"]


def test_intent_id_must_await_authorisation(tpp, consent_for):
    response = _push(tpp, consent_for(tpp, status="Rejected"))
    assert response.status_code == 400
    assert "not awaiting" in response.json["error_description"]


def test_missing_intent_id(tpp, consent_for):
    response = _push(tpp, consent_for(tpp), claims={"id_token": {}})
    assert response.status_code == 400
    assert "openbanking_intent_id" in response.json["error_description"]


def test_response_type_must_fit_the_profile(tpp, consent_for):
    response = _push(tpp, consent_for(tpp), response_type="code id_token")
    assert response.json["error"] == "unsupported_response_type"


def test_dpop_key_at_par_binds_the_request(tpp, consent_for):
    request_uri = _push(tpp, consent_for(tpp)).json["request_uri"]
    from aspsp.oauth.models import PushedAuthorizationRequest
    from sqlalchemy import select
    from aspsp import platform as _p  # noqa: F401
    with tpp.http.application.app_context():
        p = tpp.http.application.extensions["aspsp"]
        with p.uow() as uow:
            row = uow.session.scalars(select(PushedAuthorizationRequest).where(
                PushedAuthorizationRequest.request_uri == request_uri)).one()
            assert row.params["dpop_jkt"] == tpp.client.dpop_key.thumbprint()
