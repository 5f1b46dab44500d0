"""A TPP developer's first visit to the developer portal, in a real browser (Playwright), as
steps that the journey test (tests/e2e/test_portal_journey.py) and the benchmark of the time
to a first API call (bench/portal_first_call.py) both run:

sign up -> set up TOTP -> keep the backup codes -> verify the e-mail from the sandbox outbox
-> create the organisation -> create the app -> generate its key (downloaded once) -> register
with the sandbox bank in one click -> download the quickstart and run it: the first AIS call.

Each step counts what a person does on the way (pages they read, fields they fill, clicks),
so the benchmark can put a number on a person's time as well as the machine's.
"""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyotp

EMAIL = "sam@moneybox-tpp.example"
NAME = "Sam Developer"
PASSWORD = "a long sandbox passphrase"
ORGANISATION = "Moneybox TPP Ltd"
APP = "Moneybox"
REDIRECT_URI = "https://moneybox-tpp.example/callback"


@dataclass
class Effort:
    """What a person did: pages read, fields typed, clicks, files saved, commands run."""
    pages: int = 0
    fields: int = 0
    clicks: int = 0
    downloads: int = 0
    commands: int = 0

    def fill(self, page, selector: str, value: str) -> None:
        page.fill(selector, value)
        self.fields += 1

    def click(self, page, selector: str) -> None:
        page.click(selector)
        self.clicks += 1

    def goto(self, page, url: str) -> None:
        page.goto(url)
        self.pages += 1

    def person_seconds(self) -> int:
        """An estimate of a person's time: 10 s to read a page, 8 s per field typed, 3 s
        per click, 10 s to save a file, 20 s to paste and run a command."""
        return (10 * self.pages + 8 * self.fields + 3 * self.clicks + 10 * self.downloads
                + 20 * self.commands)


@dataclass
class Journey:
    base: str
    workdir: Path
    effort: Effort = field(default_factory=Effort)
    backup_codes: list[str] = field(default_factory=list)
    totp_secret: str = ""
    app_url: str = ""
    app_id: str = ""
    client_id: str = ""
    kid: str = ""
    key_file: Path | None = None
    quickstart: str = ""
    ais_output: str = ""


def sign_up(page, journey: Journey, now) -> None:
    """Sign up, set up TOTP from the QR code's secret, keep the ten backup codes."""
    e = journey.effort
    e.goto(page, journey.base + "/developers/")
    e.click(page, "text=Create an account")
    e.fill(page, "#email", EMAIL)
    e.fill(page, "#name", NAME)
    e.fill(page, "#password", PASSWORD)
    e.click(page, "button[type=submit]")
    page.wait_for_selector("#totp-secret")
    journey.totp_secret = page.inner_text("#totp-secret").strip()
    e.fill(page, "#code", pyotp.TOTP(journey.totp_secret).at(now))
    e.click(page, "button[type=submit]")
    page.wait_for_selector("#backup-codes")
    journey.backup_codes = [c.inner_text() for c in page.query_selector_all("#backup-codes code")]
    e.downloads += 1                                   # the person saves the codes somewhere
    e.click(page, "text=I have saved them")
    page.wait_for_selector("text=Hello " + NAME)


def verify_email(page, journey: Journey) -> None:
    e = journey.effort
    e.goto(page, journey.base + "/sandbox/outbox")
    e.click(page, "a[href*='/developers/verify/']")
    e.click(page, "text=Verify my address")
    page.wait_for_selector("text=is verified")


def sign_out_and_in_with_a_backup_code(page, journey: Journey) -> str:
    """Returns the backup code used."""
    e = journey.effort
    e.goto(page, journey.base + "/developers/account")
    e.click(page, "text=Sign out")
    page.wait_for_selector("text=You are signed out")
    e.goto(page, journey.base + "/developers/account")
    e.fill(page, "#email", EMAIL)
    e.fill(page, "#password", PASSWORD)
    e.click(page, "button[type=submit]")
    page.wait_for_selector("text=Enter your one-time code")
    code = journey.backup_codes[0]
    e.fill(page, "#code", code)
    e.click(page, "button[type=submit]")
    page.wait_for_selector("#backup-remaining")
    return code


def create_organisation_and_app(page, journey: Journey) -> None:
    e = journey.effort
    e.goto(page, journey.base + "/developers/")
    e.click(page, "text=Create your organisation")
    e.fill(page, "#name", ORGANISATION)
    e.fill(page, "#authorisation_id", "765432")
    for role in ("AISP", "PISP"):
        page.check(f"input[name=roles][value={role}]")
        e.clicks += 1
    e.click(page, "text=Create organisation")
    page.wait_for_selector("text=You are its administrator")
    e.click(page, "text=Create an app")
    e.fill(page, "#name", APP)
    e.fill(page, "#redirect_uris", REDIRECT_URI)
    e.click(page, "text=Create app")
    page.wait_for_selector("text=No keys yet")
    journey.app_url = page.url
    journey.app_id = journey.app_url.rstrip("/").rsplit("/", 1)[1]


def generate_key(page, journey: Journey, alg: str = "ES256") -> Path:
    """Generate a key pair in the portal; the private key arrives once, as a PEM download."""
    e = journey.effort
    page.select_option("#alg", alg)
    page.select_option("#format", "pem")
    e.fields += 2
    with page.expect_download() as download:
        e.click(page, "text=Generate and download")
    saved = journey.workdir / download.value.suggested_filename
    download.value.save_as(saved)
    e.downloads += 1
    return saved


def register(page, journey: Journey) -> None:
    e = journey.effort
    e.goto(page, journey.app_url)
    e.click(page, "text=Register with the sandbox bank")
    try:
        page.wait_for_selector("#client-id, .error", timeout=15000)
    except Exception:
        raise AssertionError(page.url + "\n" + page.inner_text("body")) from None
    assert page.query_selector("#client-id"), page.inner_text("main")
    journey.client_id = page.inner_text("#client-id").strip()


def command_of(quickstart_html: str, element: str) -> list[str]:
    found = re.search(rf'<pre id="{element}">(.*?)</pre>', quickstart_html, re.S)
    assert found, f"no {element} on the quickstart page"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).replace("\\\n", " ").split()


def run_quickstart(page, journey: Journey, journey_name: str = "ais"
                   ) -> subprocess.CompletedProcess:
    """Open the quickstart page, download the script, run the command the page shows."""
    e = journey.effort
    e.goto(page, journey.app_url + "/quickstart")
    journey.quickstart = page.content()
    with page.expect_download() as download:
        e.click(page, "a[href$='/ib_quickstart.py']")
    download.value.save_as(journey.workdir / "ib_quickstart.py")
    e.downloads += 1
    args = command_of(journey.quickstart, f"{journey_name}-command")
    assert args[:2] == ["python", "ib_quickstart.py"], args
    e.commands += 1
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, *args[1:]], cwd=journey.workdir, env=env,
                          capture_output=True, text=True, timeout=180)


def first_api_call(page, journey: Journey, now) -> subprocess.CompletedProcess:
    """From the portal's front page to the quickstart's first AIS call."""
    sign_up(page, journey, now)
    verify_email(page, journey)
    create_organisation_and_app(page, journey)
    journey.key_file = generate_key(page, journey)
    register(page, journey)
    done = run_quickstart(page, journey)
    journey.ais_output = done.stdout
    return done
