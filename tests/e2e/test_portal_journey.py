"""The developer portal from sign-up to a received webhook, in a real browser (headless
Chromium, Playwright) against a running server with the seeded sandbox bank:

sign up with TOTP, verify the address, sign out and back in with a backup code; create the
organisation and the app, generate its key, register it with the sandbox bank in one click;
run the portal's quickstart, and see that first API call in the app's request log; point the
app's webhooks at the sandbox inspector, send a test event and see it arrive, signature valid;
rotate the key; reset the app's sandbox.
"""
from __future__ import annotations


import pytest
import requests
from jwcrypto import jwk

from tests.conftest import holds_jwt
from tests.e2e import live
from tests.e2e import portal_journey as steps
from tests.integration.psu_web.test_browser import chromium  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.seeded_bank(tmp_path_factory, "aspsp_portal") as served:
        yield served


def test_from_sign_up_to_a_first_api_call_and_a_received_webhook(server, chromium, tmp_path):  # noqa: F811
    app, base = server
    now = app.extensions["aspsp"].clock.now()
    journey = steps.Journey(base=base, workdir=tmp_path)
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()

    # Sign up with TOTP, keep the backup codes, verify the address; then a backup code signs
    # in once and never again.
    steps.sign_up(page, journey, now)
    assert len(journey.backup_codes) == 10
    steps.verify_email(page, journey)
    used = steps.sign_out_and_in_with_a_backup_code(page, journey)
    assert "9 unused" in page.inner_text("#backup-remaining")
    page.click("text=Sign out")
    page.goto(base + "/developers/login")
    page.fill("#email", steps.EMAIL)
    page.fill("#password", steps.PASSWORD)
    page.click("button[type=submit]")
    page.fill("#code", used)
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "/developers/login/code" in page.url
    page.fill("#code", pyotp_now(journey, app))
    page.click("button[type=submit]")
    page.wait_for_selector("text=Hello " + steps.NAME)

    # Organisation, app, key, one click to the sandbox bank.
    steps.create_organisation_and_app(page, journey)
    journey.key_file = steps.generate_key(page, journey)
    first_key = jwk.JWK.from_pem(journey.key_file.read_bytes())
    assert first_key.has_private
    steps.register(page, journey)
    assert journey.client_id

    # The quickstart's first AIS call.
    done = steps.run_quickstart(page, journey)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.splitlines()
    assert lines[1] == "Accounts of alice (2):", done.stdout

    # That call, in the app's request log (newest first), with the token masked.
    page.goto(journey.app_url + "/requests")
    log = page.inner_text("table")
    assert "/accounts" in log and "GET" in log and "200" in log
    assert "/token" in log and "/account-access-consents" in log
    page.goto(journey.app_url + "/requests?path=/token")
    page.click("table tbody tr:first-child a")            # the newest token call's detail
    detail = page.content()
    assert "[masked]" in detail and not holds_jwt(detail)   # no token, assertion or proof

    # Webhooks: send the app's events to the sandbox inspector, fire a test event, see it.
    page.goto(journey.app_url)
    page.click("text=Webhook inspector")
    page.click("text=Send this app's events here")
    page.wait_for_selector("#subscribed")
    inspector_url = page.url
    page.goto(journey.app_url + "/webhooks")
    page.select_option("#event_type", index=0)
    page.click("button:has-text('Send a test event')")
    page.wait_for_selector("text=Test event")
    page.goto(inspector_url)
    assert "Signature valid" in page.inner_text("main")
    assert "Signature INVALID" not in page.inner_text("main")

    # Rotate the key: a second key, then the first revoked; the directory's JWKS follows.
    page.goto(journey.app_url)
    second = steps.generate_key(page, journey, alg="PS256")
    second_kid = jwk.JWK.from_pem(second.read_bytes()).thumbprint()
    page.goto(journey.app_url)
    first_kid = first_key.thumbprint()
    page.click(f"#keys form:has(input[value='{first_kid}']) button")
    page.wait_for_selector("#keys")
    keys_text = page.inner_text("#keys")
    assert second_kid in keys_text and first_kid not in keys_text
    published = requests.get(f"{base}/sandbox/directory/software/{journey.app_id}/jwks",
                             timeout=10).json()
    kids = {key["kid"] for key in published["keys"]}
    assert second_kid in kids and first_kid not in kids
    assert any(kid.startswith("sandbox-registration-") for kid in kids)

    # Reset the app's sandbox: the default test customer with funded accounts comes back.
    page.goto(journey.app_url)
    page.click("text=Sandbox test data and reset")
    page.click("button:has-text('Reset the sandbox')")
    page.wait_for_selector(".notice")
    assert "reset" in page.inner_text(".notice").lower()
    context.close()


def pyotp_now(journey, app) -> str:
    """The code of the next 30-second step (accepted, one step of drift), so that it is never
    the code already spent at enrolment."""
    import pyotp
    return pyotp.TOTP(journey.totp_secret).at(app.extensions["aspsp"].clock.now(), counter_offset=1)
