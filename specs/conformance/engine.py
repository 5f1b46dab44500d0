"""The assertion engine: checks, their results and the evidence they keep.

A check is a named function of a plan. It mirrors one module of the OpenID conformance suite
(or one OBIE test id), cites the clause it tests, and runs against a `Context` whose `http`
records every request and response as evidence (secrets redacted). Inside a check,
`expect(condition, message)` fails it, `skip(reason)` skips it; any other exception is a
failure with the exception as its message (a suite must never report a crash as a pass).
A check may name checks it needs (`needs`): when one of them did not pass it is skipped. A
check may name checks that must run before it without gating it (`after`: they leave it
values, whatever their verdict); `--only` runs both kinds along with it.
"""
from __future__ import annotations

import fnmatch
import json
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

PASS, FAIL, SKIP = "pass", "fail", "skip"

# Headers whose values are credentials (compared case-insensitively).
SECRET_HEADERS = frozenset(("authorization", "dpop", "cookie", "set-cookie", "proxy-authorization"))
# Names whose values are credentials in form fields, JSON keys and query parameters (the
# protocols spell them in lower case: OB's "Code" of an error body is not a secret).
SECRET_NAMES = frozenset((
    "client_assertion", "client_secret",
    "code_verifier", "password", "totp", "otp", "access_token", "refresh_token", "id_token",
    "software_statement", "request", "csrf_token", "code", "token", "registration_access_token",
    "d", "p", "q", "dp", "dq", "qi", "k", "private_key", "totp_secret", "software_key",
    "signing_key"))
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
MAX_BODY = 4000


class CheckFailed(Exception):
    """The ASPSP did not do what the clause requires."""


class CheckSkipped(Exception):
    """The check cannot run (missing configuration, or a check it needs did not pass)."""


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def skip(reason: str) -> None:
    raise CheckSkipped(reason)


def redacted_text(text: str) -> str:
    return JWT_PATTERN.sub(lambda m: f"[redacted JWT, {len(m.group(0))} chars]", text)


def _secret(value: Any) -> str:
    return f"[redacted, {len(str(value))} chars]"


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of `value` (dicts, lists, strings) with credentials replaced by a placeholder."""
    if key is not None and key in SECRET_NAMES and value not in (None, "", [], {}):
        return _secret(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redacted_text(value)
    return value


def redact_headers(headers) -> dict:
    return {k: _secret(v) if k.lower() in SECRET_HEADERS else
            (redact_url(v) if k.lower() == "location" else redacted_text(str(v)))
            for k, v in dict(headers).items()}


def redact_url(url: str) -> str:
    """The URL with its secrets redacted, in the query and in a fragment of parameters (an
    authorization response by fragment: code, id_token)."""
    parts = urlsplit(url)
    if not parts.query and "=" not in parts.fragment:
        return redacted_text(url)

    def params(text: str) -> str:
        return urlencode([(k, redact(v, k)) for k, v in parse_qsl(text, keep_blank_values=True)])
    parts = parts._replace(query=params(parts.query) if parts.query else "")
    if "=" in parts.fragment:
        parts = parts._replace(fragment=params(parts.fragment))
    return redacted_text(urlunsplit(parts))


def _body_summary(body: Any, content_type: str) -> Any:
    if body is None or body == b"" or body == "":
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, dict):
        return redact(body)
    if "json" in content_type:
        try:
            return redact(json.loads(body))
        except ValueError:
            pass
    if "x-www-form-urlencoded" in content_type:
        return redact(dict(parse_qsl(body, keep_blank_values=True)))
    text = redacted_text(body)
    return text if len(text) <= MAX_BODY else text[:MAX_BODY] + f"... [{len(text)} chars]"


def summarise_exchange(response: requests.Response) -> dict:
    """The evidence of one HTTP exchange: method, URL, headers and bodies, secrets redacted."""
    req = response.request
    req_type = req.headers.get("Content-Type", "")
    return {
        "request": {"method": req.method, "url": redact_url(req.url),
                    "headers": redact_headers(req.headers),
                    "body": _body_summary(req.body, req_type)},
        "response": {"status": response.status_code,
                     "headers": redact_headers(response.headers),
                     "body": _body_summary(response.content, response.headers.get(
                         "Content-Type", ""))},
    }


class RecordingSession(requests.Session):
    """A requests session that keeps every exchange as evidence for the running check and
    waits out a 429's Retry-After (at most `max_wait` seconds) once before answering."""

    def __init__(self, max_wait: float = 65.0):
        super().__init__()
        self.exchanges: list[dict] = []
        self.max_wait = max_wait
        self.headers["User-Agent"] = "invisible-bank-conformance/0.1"

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        response = super().request(method, url, *args, **kwargs)
        self.exchanges.append(summarise_exchange(response))
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "1")
            try:
                seconds = min(float(wait), self.max_wait)
            except ValueError:
                seconds = 1.0
            time.sleep(max(seconds, 0.5))
            response = super().request(method, url, *args, **kwargs)
            self.exchanges.append(summarise_exchange(response))
        return response


@dataclass
class Check:
    id: str
    title: str
    clause: str
    plan: str
    run: Callable[["Context"], None]
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass
class Result:
    id: str
    title: str
    clause: str
    plan: str
    status: str
    message: str = ""
    evidence: list[dict] = field(default_factory=list)
    duration: float = 0.0

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "clause": self.clause, "plan": self.plan,
                "status": self.status, "message": self.message,
                "duration_seconds": round(self.duration, 3), "evidence": self.evidence}


@dataclass
class Context:
    """What every check sees: the issuer, the configuration, the HTTP session recording the
    running check's evidence, and `state` that earlier checks of a run leave to later ones."""
    issuer: str
    config: dict
    http: RecordingSession = field(default_factory=RecordingSession)
    state: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Evidence that is not an HTTP exchange (a decoded id token's claims, say)."""
        self.notes.append(redacted_text(str(text)))


class Progress:
    """A progress bar on a terminal, one line per check otherwise."""

    def __init__(self, total: int, stream=None, width: int = 24):
        self.total, self.done, self.width = total, 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.counts = {PASS: 0, FAIL: 0, SKIP: 0}

    def update(self, result: Result) -> None:
        self.done += 1
        self.counts[result.status] += 1
        filled = int(self.width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"[{bar}] {self.done}/{self.total} pass {self.counts[PASS]} "
                f"fail {self.counts[FAIL]} skip {self.counts[SKIP]}  "
                f"{result.status.upper():4} {result.plan}/{result.id}")
        if self.tty:
            self.stream.write("\r\033[K" + line)
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def select(checks: list[Check], only: str | None) -> list[Check]:
    """The checks whose id or plan/id matches the glob `only` (all when None), with the checks
    they need, in plan order; comma-separated patterns are alternatives."""
    if not only:
        return list(checks)
    patterns = [p.strip() for p in only.split(",") if p.strip()]
    chosen = {c.id for c in checks
              if any(fnmatch.fnmatchcase(c.id, p) or fnmatch.fnmatchcase(f"{c.plan}/{c.id}", p)
                     or p in c.id for p in patterns)}
    by_id = {c.id: c for c in checks}
    pending = list(chosen)
    while pending:
        current = by_id[pending.pop()]
        for need in current.needs + current.after:
            if need in by_id and need not in chosen:
                chosen.add(need)
                pending.append(need)
    return [c for c in checks if c.id in chosen]


def run_check(check: Check, ctx: Context, outcomes: dict[str, str]) -> Result:
    ctx.http.exchanges = []
    ctx.notes = []
    started = time.monotonic()
    missing = [n for n in check.needs if outcomes.get(n) != PASS]
    if missing:
        status, message = SKIP, f"needs {', '.join(missing)}, which did not pass"
    else:
        try:
            check.run(ctx)
            status, message = PASS, ""
        except CheckFailed as exc:
            status, message = FAIL, str(exc)
        except CheckSkipped as exc:
            status, message = SKIP, str(exc)
        except Exception as exc:  # a crash of a check is never a pass
            status = FAIL
            message = f"{type(exc).__name__}: {exc}\n" + "".join(
                traceback.format_exception(exc)[-3:])
    evidence = list(ctx.http.exchanges)
    evidence += [{"note": n} for n in ctx.notes]
    result = Result(check.id, check.title, check.clause, check.plan, status,
                    redacted_text(message), evidence, time.monotonic() - started)
    outcomes[check.id] = status
    return result


def run(checks: list[Check], ctx: Context, progress: Progress | None = None) -> list[Result]:
    outcomes: dict[str, str] = {}
    results = []
    for check in checks:
        result = run_check(check, ctx, outcomes)
        results.append(result)
        if progress:
            progress.update(result)
    return results


def summary(results: list[Result]) -> dict:
    counts = {PASS: 0, FAIL: 0, SKIP: 0}
    for r in results:
        counts[r.status] += 1
    return {"total": len(results), **counts}
