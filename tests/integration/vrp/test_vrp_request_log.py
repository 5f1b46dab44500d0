"""The developer portal's request log covers VRP and Confirmation of Funds calls as it covers
the others (issue 12): each call of the PISP's or the CBPII's app leaves a row under its
client, with its path, status and bodies, and no token."""
from __future__ import annotations

from tests.integration.cof.conftest import CONSENTS as COF_CONSENTS
from tests.integration.cof.conftest import SCOPE as COF_SCOPE
from tests.integration.cof.conftest import consent_body as cof_consent_body
from tests.integration.request_log.conftest import logged, stored_text  # noqa: F401  (fixture)

from .conftest import CONSENTS, VRPS


def test_vrp_calls_appear_in_the_pisps_request_log(pisp, make_payer, vrp_journey, logged):
    j = vrp_journey(pisp, make_payer("50.00"))
    paid = j.pay("10.00")
    assert paid.status_code == 201
    vrp_id = paid.get_json()["Data"]["DomesticVRPId"]
    assert j.read(vrp_id).status_code == 200
    assert j.consent().status_code == 200
    over = j.pay("900.00")                       # over the £250 a payment: refused, logged too
    assert over.status_code == 400

    rows = [(r.method, r.path, r.status) for r in logged(pisp.client_id)]
    assert ("POST", CONSENTS, 201) in rows
    assert rows.count(("POST", VRPS, 201)) == 1 and ("POST", VRPS, 400) in rows
    assert ("GET", f"{VRPS}/{vrp_id}", 200) in rows
    assert ("GET", f"{CONSENTS}/{j.consent_id}", 200) in rows
    [refused] = [r for r in logged(pisp.client_id) if r.status == 400]
    assert "UK.OBIE.Rules.FailsControlParameters" in refused.response_body
    assert j.token not in stored_text(logged(pisp.client_id))


def test_a_funds_confirmation_consent_call_appears_in_the_cbpiis_request_log(make_tpp, logged):
    cbpii = make_tpp(roles=("CBPII",), name="Card Issuer")
    token = cbpii.token(scope=COF_SCOPE)
    response = cbpii.call("POST", COF_CONSENTS, token=token,
                          json=cof_consent_body("20000012345678"))
    assert response.status_code == 201, response.get_json()

    [row] = logged(cbpii.client_id)
    assert (row.method, row.path, row.status) == ("POST", COF_CONSENTS, 201)
    assert response.get_json()["Data"]["ConsentId"] in row.response_body
    assert token not in stored_text([row])
