"""Layered configuration: defaults, then the instance's settings file (the ISSUER `make run`
serves, instance/settings.json), then the environment, then an explicit mapping.

Every setting the platform reads is declared here once, with its type, default and the
environment variable that overrides it. README.md's configuration table is this list.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any] = str
    doc: str = ""


# Rate-limit tiers (aspsp.ratelimit): calls per client and API family. A full conformance run
# (all plans, one machine) peaked at 45 AIS calls in a second and 96 in a minute, 22 OAuth calls
# a second from one address: the sandbox tier leaves it twice that and more.
SANDBOX_TIER = ("ais: 100 per second, 2000 per minute; pis: 50 per second, 1000 per minute; "
                "cof: 50 per second, 1000 per minute; vrp: 50 per second, 1000 per minute; "
                "events: 20 per second, 400 per minute; oauth: 50 per second, 1000 per minute")
STANDARD_TIER = ("ais: 50 per second, 1500 per minute; pis: 25 per second, 750 per minute; "
                 "cof: 50 per second, 1500 per minute; vrp: 25 per second, 750 per minute; "
                 "events: 10 per second, 300 per minute; oauth: 25 per second, 750 per minute")
PREMIUM_TIER = ("ais: 200 per second, 6000 per minute; pis: 100 per second, 3000 per minute; "
                "cof: 200 per second, 6000 per minute; vrp: 100 per second, 3000 per minute; "
                "events: 40 per second, 1200 per minute; oauth: 100 per second, 3000 per minute")


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, str,
            "SQLAlchemy URL. Unset: an SQLite file under instance/. Production: postgresql://..."),
    Setting("REDIS_URL", None, str,
            "Redis for caches, rate limits and replay caches. Unset: in-process, only while "
            "SANDBOX_ENABLED (one process); production refuses to start without it."),
    Setting("CELERY_BROKER_URL", None, str,
            "Celery broker. Unset: REDIS_URL if set, else an SQLite broker file under instance/."),
    Setting("CELERY_ALWAYS_EAGER", False, _bool,
            "Run background tasks inline in the calling process (tests, one-off scripts)."),
    Setting("CELERY_VISIBILITY_TIMEOUT", 300, int,
            "Seconds after which the Redis broker hands a task whose worker died (taken, never "
            "acknowledged) to another worker; longer than any task runs."),
    Setting("SECRET_KEY", None, str,
            "Signs CSRF tokens (customer web sessions are server-side records). Unset: a random key "
            "made once and kept in instance/."),
    Setting("KEY_ENCRYPTION_KEY", None, str,
            "Encrypts TOTP secrets and private signing keys at rest (AES-256-GCM; never "
            "SECRET_KEY): `v2:BASE64KEY,v1:BASE64KEY`, 32 random bytes each, the first seals, all "
            "open (rotate: put a new one first, then `flask keys rewrap`). Unset: a random key "
            "made once and kept in instance/, only while SANDBOX_ENABLED; production refuses to "
            "start without it."),
    Setting("ISSUER", "http://127.0.0.1:5000", str,
            "Public base URL of the platform (the OAuth issuer, absolute links in API responses)."),
    Setting("INSTANCE_PATH", None, str, "Folder for the SQLite files and local keys (default ./instance)."),
    Setting("LOG_LEVEL", "INFO", str, "Log level of the structured JSON logs."),
    Setting("SQL_ECHO", False, _bool, "Log every SQL statement, never its bound parameters, in "
            "the JSON log lines (development only)."),
    Setting("PAYMENT_SCHEME", "simulated", str,
            "Faster Payments gateway: 'simulated' (sandbox scheme that settles in-process)."),
    Setting("SANDBOX_SETTLEMENT_PAUSE_FILE", None, str,
            "Sandbox tests only: once the simulated scheme has recorded a payment, the "
            "settlement waits while this file exists (a test kills the worker there)."),
    Setting("SANDBOX_ENABLED", True, _bool, "Sandbox mode: the built-in directory and its endpoints, the demo customers' SCA shortcuts, loopback redirect URIs. On for `make run`; never in production (docker-compose.yml sets it off)."),
    Setting("TRUSTED_PROXIES", "", str,
            "Comma-separated addresses of the TLS proxies whose client-certificate header is believed."),
    Setting("CLIENT_CERT_HEADER", "X-SSL-Client-Cert", str,
            "Header in which the proxy forwards the URL-encoded PEM client certificate."),
    Setting("TRUST_ANCHORS", "sandbox", str,
            "Directories whose software statements are trusted: 'sandbox' (the built-in directory) "
            "and/or JWKS URLs, comma-separated."),
    Setting("OUTBOUND_ALLOWED_NETWORKS", "", str,
            "Comma-separated addresses or CIDR networks that outbound calls (client JWKS, "
            "directories, webhooks) may reach although they are not public. Every other "
            "loopback, private, link-local or reserved address is refused after DNS resolution; "
            "SANDBOX_ENABLED adds loopback (and plain http)."),
    Setting("EVENT_RETRY_WINDOW_SECONDS", 86400, int,
            "Event notifications: how long a push to a TPP's callback is retried (exponential "
            "backoff with jitter) before the event is dead-lettered (it stays pollable)."),
    Setting("EVENT_RETRY_FIRST_DELAY_SECONDS", 5, int,
            "Event notifications: seconds before the first retry; each next one doubles, up to "
            "an hour."),
    Setting("EVENT_DELIVERY_TIMEOUT_SECONDS", 10, int,
            "Event notifications: one deadline for a whole push (connect, TLS, request, answer)."),
    Setting("EVENT_MAX_CONCURRENT_PER_CLIENT", 4, int,
            "Event notifications: pushes to one TPP in flight at once (workers pushing its "
            "batches) while its receiver answers promptly (its last batch: every push a 202 "
            "within 1 s); a TPP whose receiver is slow, failing or not heard from lately gets "
            "one at a time, so it holds one worker at most: with two delivery workers or more "
            "(processes x concurrency), other TPPs' events always find a free one."),
    Setting("EVENT_DELIVERY_BATCH", 50, int,
            "Event notifications: the most due events of one TPP a worker takes at once and "
            "pushes one after the other (stopping at the first answer that is not 202)."),
    Setting("EVENT_POLL_MAX_EVENTS", 100, int,
            "Event notifications: the most events one aggregated poll returns (maxEvents)."),
    Setting("ACCESS_TOKEN_TTL", 600, int, "Access token lifetime in seconds."),
    Setting("REFRESH_TOKEN_TTL", 7776000, int,
            "Refresh token lifetime in seconds (never beyond the consent's expiry)."),
    Setting("AUTHORIZATION_CODE_TTL", 60, int, "Authorization code lifetime in seconds (FAPI: 60)."),
    Setting("PAR_TTL", 90, int, "Lifetime of a pushed authorization request_uri in seconds (< 600)."),
    Setting("CONSENT_AUTHORISATION_WINDOW", 86400, int,
            "Seconds a new consent may wait for its customer's approval (a file payment "
            "consent: for its file and the approval). After them no authorisation starts or "
            "completes, and the minute sweep marks it Rejected (OBIE: a consent whose "
            "authorisation the customer does not complete is Rejected)."),
    Setting("KEY_PUBLISH_LEAD_SECONDS", 3600, int,
            "After `flask keys rotate`, seconds a new key is published before it starts signing."),
    Setting("KEY_KEEP_PUBLISHED_SECONDS", 86400, int,
            "Seconds a retired key stays in the JWKS (longer than anything it signed lives)."),
    Setting("AIS_PAGE_SIZE", 100, int,
            "Transactions per page of the AIS API, 25 to 1000 (the OBIE bounds)."),
    Setting("PSU_SESSION_IDLE_TIMEOUT", 900, int,
            "Seconds without a request after which a customer's web session (approval journey, "
            "dashboard) ends."),
    Setting("PSU_SESSION_LIFETIME", 3600, int,
            "Seconds after a customer's web session began after which it ends, however active "
            "(login steps do not extend it)."),
    Setting("LOGIN_RATE_LIMIT_PER_ADDRESS", "10 per minute; 30 per hour", str,
            "Login and one-time-code posts allowed per source address (`limits` syntax); more "
            "get 429 with Retry-After before any password is checked. Unless set, the sandbox "
            "(SANDBOX_ENABLED) allows 60 per minute; 600 per hour: its demo customers' "
            "passwords are published, and a TPP's tests or a conformance run log in often."),
    Setting("LOGIN_RATE_LIMIT_GLOBAL", "2 per second; 60 per minute", str,
            "Password posts allowed from all addresses together (only those the per-address "
            "limit let through count): keeps the web tier responsive "
            "under a password-guessing flood (each check is ~0.3 s of argon2; sized for 2 "
            "cores, raise it with the web tier's cores)."),
    Setting("PORTAL_MAIL_BACKEND", "outbox", str,
            "How the developer portal sends mail (verification, password reset): `outbox` "
            "records it in the portal_outbox table, which the sandbox shows at /sandbox/outbox; "
            "a real backend (SMTP) plugs into developer_portal/mail.py BACKENDS."),
    Setting("AIS_UNATTENDED_DAILY_LIMIT", 4, int,
            "AIS requests per consent, endpoint and UTC day without x-fapi-customer-ip-address "
            "(the customer is not present: PSD2 RTS 36(5)(b)); further ones get 429."),
    Setting("RATELIMIT_DEFAULT_TIER", "standard", str,
            "Rate-limit tier of a client the operator has set none for (`flask ratelimit set`): "
            "sandbox, standard or premium. Unless set, the sandbox (SANDBOX_ENABLED) gives "
            "new clients the sandbox tier."),
    Setting("RATELIMIT_TIER_SANDBOX", SANDBOX_TIER, str,
            "Calls per client and API family (ais, pis, cof, vrp, events, oauth) of the sandbox "
            "tier, each family's windows in `limits` syntax; sized so that a full conformance "
            "run and a TPP's test suite from one client never meet them. More get 429 with "
            "Retry-After. A client's burst adds to each family's first (per-second) window."),
    Setting("RATELIMIT_TIER_STANDARD", STANDARD_TIER, str,
            "Calls per client and API family of the standard tier (as RATELIMIT_TIER_SANDBOX)."),
    Setting("RATELIMIT_TIER_PREMIUM", PREMIUM_TIER, str,
            "Calls per client and API family of the premium tier (as RATELIMIT_TIER_SANDBOX)."),
    Setting("RATELIMIT_OAUTH_PER_ADDRESS", "50 per second; 1500 per minute", str,
            "Calls per source address to the OAuth endpoints before a client is proved (POST "
            "/token, /par, /introspect, /revoke, /register; /register/<client_id>), checked "
            "before any signature is verified; more get 429 with Retry-After."),
    Setting("CONFORMANCE_REPORT_DIR", None, str,
            "Where `flask conformance run` keeps the conformance suite's reports, a directory "
            "per run, that the regulator page /conformance shows. Unset: "
            "conformance-reports/ under INSTANCE_PATH."),
    Setting("CONFORMANCE_REPORT_HISTORY", 10, int,
            "How many conformance runs are kept (the newest; older ones are deleted after "
            "each run)."),
    Setting("REQUEST_LOG_ENABLED", True, _bool,
            "Record every API call a TPP client makes (OB APIs and the OAuth endpoints it "
            "authenticates at), bodies with secrets masked, for the developer portal's request "
            "log; written in batches by a background thread, off the request path."),
    Setting("REQUEST_LOG_RETENTION_DAYS", 14, int,
            "Days the request log keeps a call (an hourly sweep deletes older ones)."),
    Setting("ASPSP_ORG_ID", "", str,
            "The bank's organisation id at its trust anchor: the `http://openbanking.org.uk/iss` "
            "of its signed responses (x-jws-signature). Unset: the ISSUER's host name."),
    Setting("METRICS_TOKEN", None, str,
            "Bearer token that Prometheus presents to read /metrics (from any address). Unset: "
            "/metrics answers loopback peers only; anybody else gets 404."),
    Setting("METRICS_CACHE_SECONDS", 15, int,
            "Seconds /metrics keeps the figures it reads from the database (consents and "
            "payments by status) and the broker (queue lengths), so scrapes cannot hammer them."),
)

NAMES = frozenset(s.name for s in SETTINGS)


# Defaults that differ in the sandbox (an explicit setting still wins).
SANDBOX_DEFAULTS = {"LOGIN_RATE_LIMIT_PER_ADDRESS": "60 per minute; 600 per hour",
                    "RATELIMIT_DEFAULT_TIER": "sandbox"}


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, overridden by the instance's settings file, by the environment, then by
    `overrides`."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    explicit = set(overrides or {})
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw not in (None, ""):
            config[setting.name] = setting.parse(raw)
            explicit.add(setting.name)
    for key, value in (overrides or {}).items():
        config[key] = value
    instance = Path(config["INSTANCE_PATH"] or Path.cwd() / "instance").resolve()
    config["INSTANCE_PATH"] = str(instance)
    for name, value in instance_settings(instance).items():
        if name not in explicit:
            config[name] = value
    if config["SANDBOX_ENABLED"]:
        for name, value in SANDBOX_DEFAULTS.items():
            if name not in explicit:
                config[name] = value
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance / 'aspsp.sqlite'}"
    config["DATABASE_URL"] = normalise_database_url(config["DATABASE_URL"])
    if not config["CELERY_BROKER_URL"]:
        config["CELERY_BROKER_URL"] = (config["REDIS_URL"]
                                       or f"sqla+sqlite:///{instance / 'broker.sqlite'}")
    return config


INSTANCE_SETTINGS = "settings.json"     # under INSTANCE_PATH; `make run` writes ISSUER there
INSTANCE_SETTING_NAMES = frozenset({"ISSUER"})


def instance_settings(instance: Path) -> dict[str, Any]:
    """The settings this instance's dev server recorded (instance/settings.json), so that every
    command run against the instance (`flask ...`, the worker) uses the issuer `make run`
    serves; the environment and explicit overrides still win. Unreadable: none."""
    import json
    try:
        data = json.loads((instance / INSTANCE_SETTINGS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in INSTANCE_SETTING_NAMES and isinstance(v, str)}


def record_instance_settings(instance: Path | str, **settings: str) -> None:
    """Write settings for every later command on this instance (the dev server's ISSUER)."""
    import json
    path = Path(instance) / INSTANCE_SETTINGS
    data = instance_settings(Path(instance))
    data.update({k: v for k, v in settings.items() if k in INSTANCE_SETTING_NAMES})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def normalise_database_url(url: str) -> str:
    """postgresql:// and postgres:// mean psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def markdown_table() -> str:
    """README.md's configuration table, one row per setting (`make config-table` prints it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        meaning = setting.doc.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | {_shown(setting.default)} | {meaning} |")
    return "\n".join(rows)


def _shown(default: Any) -> str:
    if default is None:
        return "*(unset)*"
    if default == "":
        return "*(empty)*"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"
