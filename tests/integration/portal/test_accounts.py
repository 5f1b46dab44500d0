"""Developer accounts through the portal's pages: sign-up, the verification mail in the
sandbox outbox, TOTP enrolment and backup codes, login, lockout, rate limits, password reset,
redirects back, CSRF and escaping."""
from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from aspsp.keyring import is_sealed
from bank import create_app
from developer_portal import accounts
from developer_portal.models import PortalBackupCode, PortalDeveloper, PortalMail
from tests.conftest import TEST_ISSUER
from tests.integration.psu_web.conftest import Browser

PASSWORD = "correct horse battery"
SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
CODES = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")
LINK = re.compile(r'<a href="(http://localhost/developers/(?:verify|reset)/[^"]+)">')


def path_of(url: str) -> str:
    return urlsplit(url).path


def sign_up(browser: Browser, email: str = "dana@example.com", name: str = "Dana Developer",
            password: str = PASSWORD):
    browser.get("/developers/signup")
    return browser.submit("/developers/signup", {"email": email, "name": name,
                                                 "password": password})


def enrol(browser: Browser, clock) -> tuple[pyotp.TOTP, list[str]]:
    """From the enrolment page: confirm with the app's code; the backup codes shown."""
    secret = SECRET.search(browser.html).group(1)
    totp = pyotp.TOTP(secret)
    page = browser.submit("/developers/enrol", {"code": totp.at(clock.now())})
    assert page.status_code == 200 and "Your backup codes" in browser.html
    return totp, CODES.findall(browser.html)


def new_developer(app, clock, **kwargs) -> tuple[Browser, pyotp.TOTP, list[str]]:
    browser = Browser(app.test_client())
    sign_up(browser, **kwargs)
    totp, codes = enrol(browser, clock)
    return browser, totp, codes


def sign_out(browser: Browser):
    browser.get("/developers/account")            # a page with the sign-out form
    return browser.submit("/developers/logout", {})


def text(browser: Browser) -> str:
    return html.unescape(browser.html)


def password_step(browser: Browser, email="dana@example.com", password=PASSWORD, next=None):
    browser.get("/developers/login" + (f"?next={next}" if next else ""))
    form = {"email": email, "password": password}
    if next:
        form["next"] = next
    return browser.submit("/developers/login", form)


def outbox_links(browser: Browser) -> list[str]:
    browser.get("/sandbox/outbox")
    return LINK.findall(browser.html)


def developer_row(platform, email="dana@example.com") -> PortalDeveloper:
    with platform.uow() as uow:
        row = uow.session.scalars(select(PortalDeveloper).where(
            PortalDeveloper.email == email)).one()
        uow.session.expunge(row)
        return row


def test_sign_up_mails_a_verification_link_that_works_once(app, platform, clock, caplog):
    browser = Browser(app.test_client())
    with caplog.at_level(logging.INFO, logger="developer_portal.mail"):
        page = sign_up(browser, email="Dana@Example.com")
    assert page.status_code == 200 and "Set up your authenticator app" in browser.html
    assert 'src="data:image/png;base64,' in browser.html

    links = outbox_links(browser)
    assert "Verify your e-mail address" in browser.html and "To dana@example.com" in browser.html
    assert len(links) == 1
    token = path_of(links[0]).rsplit("/", 1)[1]
    logged = [r for r in caplog.records if r.getMessage() == "portal mail sent"]
    assert logged and all(token not in str(r.__dict__) for r in logged)
    assert developer_row(platform).email_verified_at is None

    confirm = browser.get(path_of(links[0]))
    assert confirm.status_code == 200 and "Verify my address" in browser.html
    confirm_page = browser.html
    done = browser.submit(path_of(links[0]), {})
    assert done.status_code == 200 and "dana@example.com is verified" in browser.html
    assert developer_row(platform).email_verified_at == clock.now()

    again = browser.get(path_of(links[0]))
    assert again.status_code == 410 and "doesn't work any more" in text(browser)
    browser.html = confirm_page                      # the form again, its token still good
    assert browser.submit(path_of(links[0]), {}).status_code == 410
    forged = browser.get(path_of(links[0])[:-3] + "abc")
    assert forged.status_code == 410


def test_a_verification_link_expires_after_two_days(app, clock):
    browser = Browser(app.test_client())
    sign_up(browser)
    link = outbox_links(browser)[0]
    clock.advance(timedelta(days=2, seconds=1))
    assert browser.get(path_of(link)).status_code == 410


def test_enrolment_seals_the_secret_and_shows_ten_backup_codes_once(app, platform, clock):
    browser = Browser(app.test_client())
    sign_up(browser, name="Dana")
    secret = SECRET.search(browser.html).group(1)
    wrong = browser.submit("/developers/enrol", {"code": "000000"})
    assert wrong.status_code == 400 and "That code is not right" in browser.html
    assert SECRET.search(browser.html).group(1) == secret      # the same key until confirmed

    totp, codes = enrol(browser, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    row = developer_row(platform)
    assert row.totp_enabled_at == clock.now()
    assert is_sealed(row.totp_secret) and secret not in row.totp_secret
    with platform.uow() as uow:
        hashes = list(uow.session.scalars(select(PortalBackupCode.code_hash).where(
            PortalBackupCode.developer_pk == row.id)))
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(code.replace("-", "") in "".join(hashes) for code in codes)

    assert "Hello Dana" in browser.get("/developers/").get_data(as_text=True)
    account = browser.get("/developers/account").get_data(as_text=True)
    assert "10 unused" in account and not CODES.search(account)
    assert browser.get("/developers/enrol").status_code == 303   # no second enrolment


def test_login_with_a_totp_code_goes_back_to_the_page_asked_for(app, clock):
    browser, totp, _ = new_developer(app, clock)
    sign_out(browser)
    assert browser.get("/developers/account").status_code == 303
    assert "next=/developers/account" in browser.http.get("/developers/account").location

    page = password_step(browser, next="/developers/account")
    assert page.status_code == 200 and "Enter your one-time code" in browser.html
    assert browser.http.get("/developers/account").status_code == 303   # not signed in yet
    clock.advance(timedelta(seconds=60))
    code = totp.at(clock.now())
    done = browser.submit("/developers/login/code", {"code": code}, follow=False)
    assert done.status_code == 303 and done.location == "/developers/account"

    sign_out(browser)                       # the same code again: refused (replay)
    password_step(browser)
    replay = browser.submit("/developers/login/code", {"code": code})
    assert replay.status_code == 401 and "already used" in browser.html


def test_a_backup_code_signs_in_once_and_never_again(app, platform, clock):
    browser, _, codes = new_developer(app, clock)
    sign_out(browser)
    password_step(browser)
    done = browser.submit("/developers/login/code", {"code": codes[3].upper()}, follow=False)
    assert done.status_code == 303 and done.location == "/developers/"
    assert "9 unused" in browser.get("/developers/account").get_data(as_text=True)

    sign_out(browser)
    password_step(browser)
    again = browser.submit("/developers/login/code", {"code": codes[3]})
    assert again.status_code == 401 and "not right, or was already used" in browser.html
    assert browser.submit("/developers/login/code", {"code": codes[4]}).status_code == 200
    assert "Hello" in browser.html

    # New codes replace the old ones.
    browser.get("/developers/account")
    browser.submit("/developers/account/backup-codes", {})
    fresh = CODES.findall(browser.html)
    assert len(fresh) == 10 and "old codes no longer work" in browser.html
    sign_out(browser)
    password_step(browser)
    assert browser.submit("/developers/login/code", {"code": codes[5]}).status_code == 401


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/developers/", "/\\evil.example",
    "/psu/consents", "javascript:alert(1)", "/developers/../psu/consents", "https:/developers/",
    "/developers/\r\nSet-Cookie: x=1", "", None])
def test_safe_next_refuses_anything_but_a_portal_path_of_this_site(target):
    assert accounts.safe_next(target) is None


def test_safe_next_keeps_a_portal_path_and_its_query():
    assert accounts.safe_next("/developers/apps/abc?tab=keys") == "/developers/apps/abc?tab=keys"
    assert accounts.safe_next("/developers") == "/developers"


def test_login_never_redirects_to_another_site(app, clock):
    browser, totp, _ = new_developer(app, clock)
    for n, target in enumerate(["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                "/psu/consents"]):
        sign_out(browser)
        page = password_step(browser, next=target)
        assert page.status_code == 200 and "evil" not in browser.html
        clock.advance(timedelta(seconds=60))
        done = browser.submit("/developers/login/code", {"code": totp.at(clock.now())},
                              follow=False)
        assert done.status_code == 303 and done.location == "/developers/", target


def test_five_failures_lock_the_account_and_unknown_addresses_look_the_same(app, platform,
                                                                           clock):
    browser, totp, _ = new_developer(app, clock)
    sign_out(browser)
    answers = [password_step(browser, password="wrong password!") for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 4 + [403]
    wrong_text = "The e-mail address or password is not right."
    assert wrong_text in answers[0].get_data(as_text=True)
    assert "This login is locked" in browser.html
    locked = password_step(browser)                      # the right password: still locked
    assert locked.status_code == 403 and "This login is locked" in browser.html

    stranger = Browser(app.test_client())
    unknown = [password_step(stranger, email="nobody@example.com", password="wrong password!")
               for _ in range(5)]
    assert [a.status_code for a in unknown] == [401] * 4 + [403]
    assert wrong_text in unknown[0].get_data(as_text=True)
    assert "This login is locked" in stranger.html

    clock.advance(timedelta(minutes=15, seconds=1))
    assert password_step(browser).status_code == 200     # on to the code page
    clock.advance(timedelta(seconds=60))
    assert browser.submit("/developers/login/code", {"code": totp.at(clock.now())}
                          ).status_code == 200
    assert developer_row(platform).failed_logins == 0


def test_wrong_codes_count_towards_the_lock(app, platform, clock):
    browser, _, _ = new_developer(app, clock)
    sign_out(browser)
    password_step(browser)
    answers = [browser.submit("/developers/login/code", {"code": "123456"})
               for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 4 + [403]
    assert "This login is locked" in browser.html
    assert browser.get("/developers/login/code").status_code == 303   # back to the password
    assert developer_row(platform).locked_until == clock.now() + timedelta(minutes=15)


def test_password_and_code_posts_over_the_limit_get_429(database, clock, tmp_path):
    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                      "LOGIN_RATE_LIMIT_PER_ADDRESS": "3 per minute",
                      "LOGIN_RATE_LIMIT_GLOBAL": "100 per minute"})
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    browser = Browser(http)
    for _ in range(3):
        assert password_step(browser, password="wrong password!").status_code == 401
    refused = password_step(browser, password="wrong password!")
    assert refused.status_code == 429 and "Too many attempts" in browser.html
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "/developers/static/portal.css" in browser.html
    browser.get("/developers/reset")
    assert browser.submit("/developers/reset", {"email": "a@example.com"}).status_code == 429


def test_password_reset_by_mail_ends_other_sessions_and_keeps_the_second_factor(
        app, platform, clock):
    elsewhere, totp, _ = new_developer(app, clock)
    assert elsewhere.get("/developers/account").status_code == 200

    browser = Browser(app.test_client())
    browser.get("/developers/reset")
    unknown = browser.submit("/developers/reset", {"email": "nobody@example.com"})
    unknown_text = browser.html.replace("nobody@example.com", "EMAIL")
    browser.get("/developers/reset")
    known = browser.submit("/developers/reset", {"email": " DANA@example.com"})
    assert unknown.status_code == known.status_code == 200
    assert browser.html.replace("dana@example.com", "EMAIL") == unknown_text
    with platform.uow() as uow:
        subjects = list(uow.session.scalars(select(PortalMail.subject).where(
            PortalMail.subject == "Reset your password")))
    assert subjects == ["Reset your password"]            # none for the unknown address

    link = path_of(outbox_links(browser)[0])
    assert "/developers/reset/" in link
    browser.get(link)
    assert "Choose a new password" in browser.html
    weak = browser.submit(link, {"password": "short"})
    assert weak.status_code == 400 and "at least 12 characters" in browser.html
    done = browser.submit(link, {"password": "a brand new passphrase"})
    assert done.status_code == 200 and "Your password is changed" in browser.html
    assert "signed out everywhere else" in browser.html

    assert elsewhere.get("/developers/account").status_code == 303   # signed out there
    assert browser.get(link).status_code == 410                       # the link is spent
    assert password_step(browser).status_code == 401                  # the old password
    assert password_step(browser, password="a brand new passphrase").status_code == 200
    assert "Enter your one-time code" in browser.html                 # still two factors
    clock.advance(timedelta(seconds=60))
    assert browser.submit("/developers/login/code", {"code": totp.at(clock.now())}
                          ).status_code == 200


def test_a_reset_link_expires_after_an_hour(app, clock):
    new_developer(app, clock)
    browser = Browser(app.test_client())
    browser.get("/developers/reset")
    browser.submit("/developers/reset", {"email": "dana@example.com"})
    link = path_of(outbox_links(browser)[0])
    clock.advance(timedelta(hours=1, seconds=1))
    assert browser.get(link).status_code == 410


def test_sign_up_refuses_weak_passwords_bad_input_and_a_taken_address(app, platform, clock):
    browser = Browser(app.test_client())
    cases = [({"password": "short pass"}, "at least 12 characters"),
             ({"password": "dana@example.com"}, "can't be your e-mail address"),
             ({"password": "Dana Developer"}, "can't be your e-mail address or your name"),
             ({"password": "abababababababab"}, "one or two characters repeated"),
             ({"email": "not-an-address"}, "Enter your e-mail address"),
             ({"name": "   "}, "Enter your name"),
             ({"name": "x" * 141}, "Enter your name")]
    for change, message in cases:
        form = {"email": "dana@example.com", "name": "Dana Developer", "password": PASSWORD,
                **change}
        page = sign_up(browser, **form)
        assert page.status_code == 400 and message in text(browser), change
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PortalDeveloper)) == 0
    new_developer(app, clock)
    page = sign_up(Browser(app.test_client()), email="DANA@example.com")
    assert page.status_code == 400 and "already an account" in page.get_data(as_text=True)


def test_an_unverified_developer_sees_a_banner_and_may_not_create_organisations(app, platform,
                                                                               clock):
    browser, _, _ = new_developer(app, clock)
    page = browser.get("/developers/account").get_data(as_text=True)
    assert 'id="verify-banner"' in page and "can't create organisations" in html.unescape(page)
    row = developer_row(platform)
    with pytest.raises(Forbidden, match="Verify your e-mail address"):
        accounts.require_verified(row)

    browser.submit("/developers/verify/resend", {})
    links = outbox_links(browser)
    assert len(links) == 2
    browser.get(path_of(links[0]))
    browser.submit(path_of(links[0]), {})
    assert 'id="verify-banner"' not in browser.get("/developers/account").get_data(as_text=True)
    accounts.require_verified(developer_row(platform))            # no exception
    assert browser.get(path_of(links[1])).status_code == 410      # the address is verified


def test_a_first_login_without_totp_goes_to_enrolment(app, clock):
    browser = Browser(app.test_client())
    sign_up(browser)                        # leaves before confirming a code
    browser = Browser(app.test_client())
    page = password_step(browser)
    assert page.status_code == 200 and "Set up your authenticator app" in browser.html
    assert browser.http.get("/developers/login/code").status_code == 303
    enrol(browser, clock)
    assert "Hello" in browser.get("/developers/").get_data(as_text=True)


FORMS = ["/developers/signup", "/developers/login", "/developers/login/code",
         "/developers/enrol", "/developers/account/backup-codes", "/developers/verify/resend",
         "/developers/reset", "/developers/logout"]


def test_every_form_refuses_a_post_without_its_csrf_token(app, platform, clock):
    browser, _, codes = new_developer(app, clock)
    outbox_links(browser)
    verify = path_of(outbox_links(browser)[0])
    browser.get("/developers/reset")
    browser.submit("/developers/reset", {"email": "dana@example.com"})
    reset = path_of([link for link in outbox_links(browser) if "/reset/" in link][0])
    for path in [*FORMS, verify, reset]:
        refused = browser.submit(path, {"email": "dana@example.com", "password": PASSWORD,
                                        "code": codes[0], "name": "x"}, csrf=False,
                                 follow=False)
        assert refused.status_code == 400, path
        assert "did not come from this site" in refused.get_data(as_text=True), path
    row = developer_row(platform)
    assert row.email_verified_at is None
    assert browser.get("/developers/account").status_code == 200     # still signed in
    assert "10 unused" in browser.html


def test_names_and_addresses_are_escaped(app, platform, clock):
    name = '<script>alert("x")</script>'
    browser, _, _ = new_developer(app, clock, name=name, email="o'brien+x@example.com")
    for page in (browser.get("/developers/account"), browser.get("/developers/"),
                 browser.get("/sandbox/outbox")):
        text = page.get_data(as_text=True)
        assert "<script>" not in text and "&lt;script&gt;" in text
    assert developer_row(platform, "o'brien+x@example.com").name == name
    bad = sign_up(Browser(app.test_client()), email="<b>@x.example", name=name)
    assert bad.status_code == 400 and "<b>@" not in bad.get_data(as_text=True)
