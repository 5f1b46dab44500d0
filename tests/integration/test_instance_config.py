"""One instance configuration: every command run against an instance uses the issuer that
`make run` serves it on (instance/settings.json), and `make run` lists the demo logins once."""
from __future__ import annotations

import json

from jwcrypto import jwt

from aspsp.config import load_config, record_instance_settings
from bank import create_app
from deploy import devserver


def _app(database, clock, instance, **extra):
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(instance),
                       "SECRET_KEY": "test-secret", "TESTING": True, **extra})


def _claims(token: str) -> dict:
    return json.loads(jwt.JWT(jwt=token).token.objects["payload"])


def test_the_cli_issues_ssas_for_the_issuer_make_run_serves(database, clock, tmp_path,
                                                            monkeypatch, tmp_path_factory):
    monkeypatch.delenv("ISSUER", raising=False)
    record_instance_settings(tmp_path, ISSUER="http://127.0.0.1:5077")    # what make run does
    app = _app(database, clock, tmp_path)
    runner = app.test_cli_runner()
    org = runner.invoke(args=["sandbox", "directory", "create-org", "--name", "Port Ltd",
                              "--authorisation-id", "1", "--role", "AISP"])
    key_file = tmp_path_factory.mktemp("keys") / "software.jwk"
    software = runner.invoke(args=["sandbox", "directory", "create-software",
                                   org.output.strip(), "--name", "Port app", "--role", "AISP",
                                   "--redirect-uri", "https://tpp.example/cb",
                                   "--new-key", str(key_file)])
    assert software.exit_code == 0, software.output
    issued = runner.invoke(args=["sandbox", "directory", "issue-ssa", software.output.strip()])
    assert issued.exit_code == 0, issued.output
    claims = _claims(issued.output.strip())
    assert claims["software_jwks_endpoint"].startswith(
        "http://127.0.0.1:5077/sandbox/directory/software/")


def test_the_environment_and_explicit_settings_still_win_over_the_instance_file(tmp_path):
    record_instance_settings(tmp_path, ISSUER="http://127.0.0.1:5077")
    instance = {"INSTANCE_PATH": str(tmp_path)}
    assert load_config(instance, environ={})["ISSUER"] == "http://127.0.0.1:5077"
    assert load_config(instance, environ={"ISSUER": "https://bank.example"})["ISSUER"] == \
        "https://bank.example"
    assert load_config(dict(instance, ISSUER="http://localhost"), environ={})["ISSUER"] == \
        "http://localhost"
    assert load_config({"INSTANCE_PATH": str(tmp_path / "other")}, environ={})["ISSUER"] == \
        "http://127.0.0.1:5000"


def test_only_known_instance_settings_are_read(tmp_path):
    (tmp_path / "settings.json").write_text('{"ISSUER": "http://127.0.0.1:6000", '
                                            '"SANDBOX_ENABLED": true, "DATABASE_URL": "x"}')
    config = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    assert config["ISSUER"] == "http://127.0.0.1:6000"
    assert config["DATABASE_URL"] != "x"
    (tmp_path / "settings.json").write_text("not json")
    assert load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})["ISSUER"] == \
        "http://127.0.0.1:5000"


def test_make_run_lists_the_demo_logins_once_on_a_first_run(app, tmp_path):
    seeded = app.test_cli_runner().invoke(args=["sandbox", "seed", "--customers", "0",
                                                "--business", "0", "--months", "1",
                                                "--no-logins"])       # what make run runs
    assert seeded.exit_code == 0, seeded.output
    shown = seeded.output + devserver.banner(app, "http://127.0.0.1:5077", None,
                                             devserver.demo_logins(app))
    assert shown.count("Demo PSU logins") == 1
    assert shown.count("alice") == 1


def test_without_the_sandbox_make_run_lists_no_demo_logins(database, clock, tmp_path,
                                                           redis_url):
    production = _app(database, clock, tmp_path, SANDBOX_ENABLED=False, REDIS_URL=redis_url)
    assert devserver.demo_logins(production) == ""


def test_the_sandbox_allows_more_logins_per_address_unless_told_otherwise(tmp_path):
    """A conformance run or a TPP's tests log the demo customers in far more than 30 times
    an hour from one address; production keeps the strict default."""
    sandbox = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    assert sandbox["LOGIN_RATE_LIMIT_PER_ADDRESS"] == "60 per minute; 600 per hour"
    production = load_config({"INSTANCE_PATH": str(tmp_path), "SANDBOX_ENABLED": False},
                             environ={})
    assert production["LOGIN_RATE_LIMIT_PER_ADDRESS"] == "10 per minute; 30 per hour"
    told = load_config({"INSTANCE_PATH": str(tmp_path)},
                       environ={"LOGIN_RATE_LIMIT_PER_ADDRESS": "5 per minute"})
    assert told["LOGIN_RATE_LIMIT_PER_ADDRESS"] == "5 per minute"
