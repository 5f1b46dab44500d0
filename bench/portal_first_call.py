"""Time from an empty database to a TPP developer's first successful AIS call, made with the
developer portal's quickstart, as a scripted browser journey (issue 11's measure).

  .venv/bin/python bench/portal_first_call.py [--rounds 3]

Each round starts from nothing, as `make run` on a fresh clone does: a new SQLite file, the
migrations, the seeded sandbox bank (`flask sandbox seed`'s defaults), the platform served on
127.0.0.1. Then headless Chromium (Playwright, /usr/bin/chromium) walks the portal the way a
developer does (tests/e2e/portal_journey.py, the same steps the journey test runs): sign up,
TOTP, verify the e-mail from the sandbox outbox, create the organisation and the app,
generate its key, register with the sandbox bank in one click, download the quickstart and run
the command the page shows, which makes the consent, has it approved and calls GET /accounts.

Reported per round and as medians:
- machine seconds: setup (migrate + seed), the browser journey up to the quickstart, and the
  quickstart's run; their sum is the empty-database-to-first-call time;
- a person's time, from what the journey made a person do (pages read, fields typed, clicks,
  files saved, commands run; weights in portal_journey.Effort.person_seconds);
- the baseline, in the same run: the same quickstart command run again against the same
  server, i.e. the API journey alone with a client already registered, which no portal can
  make shorter. The ratio journey / baseline is the cost of getting there through the portal.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from aspsp.cli import upgrade  # noqa: E402
from aspsp.config import load_config  # noqa: E402
from bank import create_app  # noqa: E402
from sandbox.seed import SeedOptions, seed_bank  # noqa: E402
from tests.e2e import portal_journey as steps  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def one_round(workdir: Path) -> dict:
    started = time.monotonic()
    url = f"sqlite:///{workdir / 'platform.sqlite'}"
    settings = {"DATABASE_URL": url, "SECRET_KEY": "bench", "CELERY_ALWAYS_EAGER": True,
                "INSTANCE_PATH": str(workdir / "instance")}
    upgrade(url, config=load_config(settings))       # as `flask db upgrade` does
    app = create_app(settings)
    with app.app_context():
        p = app.extensions["aspsp"]
        seed_bank(p.db, SeedOptions(), today=p.clock.now().date())
    http = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{http.server_port}"
    app.config["ISSUER"] = app.extensions["aspsp"].config["ISSUER"] = base
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    setup = time.monotonic() - started

    from playwright.sync_api import sync_playwright
    journey = steps.Journey(base=base, workdir=workdir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--headless", "--no-sandbox"])
            page = browser.new_context(accept_downloads=True).new_page()
            begun = time.monotonic()
            steps.sign_up(page, journey, app.extensions["aspsp"].clock.now())
            steps.verify_email(page, journey)
            steps.create_organisation_and_app(page, journey)
            journey.key_file = steps.generate_key(page, journey)
            steps.register(page, journey)
            portal = time.monotonic() - begun
            begun = time.monotonic()
            done = steps.run_quickstart(page, journey)
            quickstart = time.monotonic() - begun
            browser.close()
        if done.returncode != 0 or "Accounts of alice" not in done.stdout:
            raise SystemExit(f"the quickstart failed:\n{done.stdout}\n{done.stderr}")
        begun = time.monotonic()
        again = subprocess.run([sys.executable, *steps.command_of(journey.quickstart,
                                                                   "ais-command")[1:]],
                               cwd=workdir, capture_output=True, text=True, timeout=180)
        baseline = time.monotonic() - begun
        if again.returncode != 0:
            raise SystemExit(f"the baseline run failed:\n{again.stdout}\n{again.stderr}")
    finally:
        http.shutdown()
        app.extensions["request_log"].flush()     # before the database goes, not at exit
        app.extensions["aspsp"].db.engine.dispose()
    effort = journey.effort
    return {"setup_s": setup, "portal_s": portal, "quickstart_s": quickstart,
            "empty_database_to_first_call_s": setup + portal + quickstart,
            "browser_journey_s": portal + quickstart, "baseline_api_journey_s": baseline,
            "ratio_journey_to_baseline": (portal + quickstart) / baseline,
            "person_seconds": effort.person_seconds(),
            "effort": {"pages": effort.pages, "fields": effort.fields, "clicks": effort.clicks,
                       "downloads": effort.downloads, "commands": effort.commands}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rounds = []
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
            result = one_round(Path(tmp))
        rounds.append(result)
        print(f"round {number}: empty database to first AIS call "
              f"{result['empty_database_to_first_call_s']:.1f} s (setup {result['setup_s']:.1f}, "
              f"portal {result['portal_s']:.1f}, quickstart {result['quickstart_s']:.1f}); "
              f"baseline API journey {result['baseline_api_journey_s']:.2f} s; ratio "
              f"{result['ratio_journey_to_baseline']:.1f}; a person's time "
              f"{result['person_seconds']} s ({result['effort']})", flush=True)
    summary = {key: statistics.median(r[key] for r in rounds)
               for key in rounds[0] if isinstance(rounds[0][key], (int, float))}
    print("median: " + ", ".join(f"{key} {value:.2f}" for key, value in summary.items()))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "portal_first_call.json").write_text(json.dumps({"rounds": rounds,
                                                             "median": summary}, indent=2))


if __name__ == "__main__":
    main()
