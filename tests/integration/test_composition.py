"""The bank as deployed (bank.create_app) loads the sandbox's code only while SANDBOX_ENABLED is
on: a production process never imports a module of `sandbox`, and still serves. Each app is
built in a fresh interpreter, so that no other test's imports can hide one."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aspsp.cli import upgrade
from tests.conftest import REDIS_URL, TEST_ISSUER

ROOT = Path(__file__).resolve().parents[2]

BUILD = """
import json, sys
from bank import create_app
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
answers = {url: client.get(url).status_code
           for url in ("/.well-known/openid-configuration", "/sandbox/directory/jwks")}
print(json.dumps({"answers": answers, "blueprints": sorted(app.blueprints),
                  "sandbox_modules": sorted(m for m in sys.modules
                                            if m == "sandbox" or m.startswith("sandbox."))}))
"""


def build(tmp_path: Path, **settings) -> dict:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    upgrade(url)            # here: the migrations' schema names the sandbox's tables
    config = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path),
              "SECRET_KEY": "test-secret", "ISSUER": TEST_ISSUER, "CELERY_ALWAYS_EAGER": True,
              **settings}
    done = subprocess.run([sys.executable, "-c", BUILD, json.dumps(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.usefixtures("redis_url")
def test_a_production_process_never_imports_the_sandbox(tmp_path):
    built = build(tmp_path, SANDBOX_ENABLED=False, REDIS_URL=REDIS_URL)
    assert built["sandbox_modules"] == []
    assert built["answers"] == {"/.well-known/openid-configuration": 200,
                                "/sandbox/directory/jwks": 404}


def test_the_sandbox_is_wired_in_when_enabled(tmp_path):
    built = build(tmp_path, SANDBOX_ENABLED=True)
    assert "sandbox" in built["sandbox_modules"]
    assert built["answers"] == {"/.well-known/openid-configuration": 200,
                                "/sandbox/directory/jwks": 200}
