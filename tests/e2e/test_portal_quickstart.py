"""The first successful AIS call with the portal's quickstart, against a running server: an
app with a key of its own, one click to the sandbox bank (the portal's register button), then
developer_portal/quickstart/ib_quickstart.py run as the developer runs it, with the app's
values from the quickstart page, in a separate process: discovery, client credentials
(private_key_jwt + DPoP), consent, PAR, the sandbox control API's approval, the code exchange
and GET /accounts; and the PIS journey with signed requests. Any broken step fails the run."""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jwcrypto import jwk

from developer_portal.models import PortalApp
from tests.e2e import live
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in

SCRIPT = Path(__file__).resolve().parents[2] / "developer_portal" / "quickstart" / \
    "ib_quickstart.py"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIRECT = "https://acme.example.com/callback"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.seeded_bank(tmp_path_factory, "aspsp_e2e") as served:
        yield served


def command(page: str, element: str) -> list[str]:
    """The command line the quickstart page shows, as arguments."""
    found = re.search(rf'<pre id="{element}">(.*?)</pre>', page, re.S)
    assert found, f"no {element} on the quickstart page"
    text = html.unescape(found.group(1)).replace("\\\n", " ")
    return text.split()


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    assert args[:2] == ["python", "ib_quickstart.py"]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, *args[1:]], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_register_in_one_click_then_the_quickstart_reads_accounts_and_pays(server, tmp_path):
    app, base = server
    p = app.extensions["aspsp"]
    started = time.monotonic()

    # A developer's organisation and app, with a key pair made on the developer's machine.
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="acme-key-1")
    public = {**json.loads(key.export_public()), "kid": "acme-key-1", "use": "sig",
              "alg": "ES256"}
    with app.app_context(), p.uow() as uow:
        now = p.clock.now()
        dana = make_developer(uow, now)
        org = make_organisation(uow, now, dana, roles=("AISP", "PISP"))
        portal_app = make_app(uow, now, org, jwks={"keys": [public]}, redirect_uris=[REDIRECT])
        app_id = portal_app.app_id
        uow.commit()

    # One click on the app's page.
    browser = app.test_client()
    sign_in(browser, dana, p.clock.now())
    page = browser.get(f"/developers/apps/{app_id}/quickstart").get_data(as_text=True)
    clicked = browser.post(f"/developers/apps/{app_id}/sandbox/register",
                           data={"csrf_token": CSRF.search(page).group(1)})
    assert clicked.status_code == 303
    with app.app_context(), p.uow() as uow:
        client_id = uow.session.get(PortalApp, portal_app.id).client_id
    assert client_id

    # The quickstart page: the script (downloaded) and its command lines, filled in.
    page = browser.get(f"/developers/apps/{app_id}/quickstart").get_data(as_text=True)
    download = browser.get(f"/developers/apps/{app_id}/quickstart/ib_quickstart.py")
    assert download.headers["Content-Disposition"] == 'attachment; filename="ib_quickstart.py"'
    (tmp_path / "ib_quickstart.py").write_bytes(download.data)
    assert download.data == SCRIPT.read_bytes()
    ais = command(page, "ais-command")
    key_file = ais[ais.index("--key") + 1]
    assert key_file == f"{app_id}-acme-key-1-private.pem"
    (tmp_path / key_file).write_bytes(key.export_to_pem(private_key=True, password=None))
    assert ais[ais.index("--client-id") + 1] == client_id
    assert ais[ais.index("--issuer") + 1] == base

    # The first AIS call.
    done = run(ais, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.splitlines()
    assert re.match(r"consent \S+: AwaitingAuthorisation", lines[0]), done.stdout
    assert lines[1] == "Accounts of alice (2):", done.stdout
    listed = [line.split()[0] for line in lines[2:]]
    assert len(listed) == 2 and all("GBP" in line for line in lines[2:]), done.stdout
    machine_seconds = time.monotonic() - started

    # A payment: signed consent, approval, signed submission.
    paid = run(command(page, "pis-command"), tmp_path)
    assert paid.returncode == 0, paid.stderr + paid.stdout
    assert re.search(r"^Payment \S+ of GBP 10.00 to ACME Ltd: (Pending|AcceptedSettlement"
                     r"InProcess|AcceptedSettlementCompleted|AcceptedCreditSettlementCompleted)$",
                     paid.stdout, re.M), paid.stdout
    print(f"from an app to the first AIS call through the portal: {machine_seconds:.1f} s")


def test_a_broken_step_fails_the_quickstart(server, tmp_path):
    """A wrong key: the first step that needs it (the token) fails, and says so."""
    app, base = server
    (tmp_path / "other.pem").write_bytes(jwk.JWK.generate(kty="EC", crv="P-256").export_to_pem(
        private_key=True, password=None))
    done = run(["python", "ib_quickstart.py", "--issuer", base, "--client-id", "no-such-client",
                "--key", str(tmp_path / "other.pem"), "--kid", "k1", "--redirect-uri", REDIRECT,
                "ais"], SCRIPT.parent)
    assert done.returncode == 1
    assert "FAILED: client-credentials token: the bank answered 401" in done.stderr
