"""The benchmark's own app for gunicorn: the product, plus two references that exist only
here.

    gunicorn 'bench.ais_transactions_app:application'   (bench/ais_transactions.py starts it)

GET /bench/static answers with the bytes of the file BENCH_STATIC_BODY as application/json:
a page of transactions as the real endpoint served it, replayed without the consent gate,
the database or serialisation, through the same server, Flask app and middleware.
GET /bench/bare answers with the same bytes from a bare WSGI callable in front of Flask (no
Flask, no middleware): the ceiling of the server itself. The product never has these routes:
only this wrapper adds them. (`app` alone is the Flask app with /bench/static, as before.)
"""
from __future__ import annotations

import os
from pathlib import Path

from bank import create_app

app = create_app({"DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
                  "ISSUER": os.environ["BENCH_ISSUER"],
                  "REDIS_URL": os.environ.get("BENCH_REDIS_URL") or None,
                  "AIS_PAGE_SIZE": int(os.environ.get("BENCH_PAGE_SIZE", "100")),
                  "SECRET_KEY": "bench", "SANDBOX_ENABLED": False,
                  "INSTANCE_PATH": os.environ.get("BENCH_INSTANCE", "/tmp/aspsp-bench-ais")})
_static: list[bytes] = []


@app.get("/bench/static")
def static_page():
    if not _static:                      # read once per worker, on first use
        _static.append(Path(os.environ["BENCH_STATIC_BODY"]).read_bytes())
    return app.response_class(_static[0], mimetype="application/json")


def _bare(environ, start_response):
    if not _static:
        _static.append(Path(os.environ["BENCH_STATIC_BODY"]).read_bytes())
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(_static[0])))])
    return [_static[0]]


def application(environ, start_response):
    """/bench/bare to the bare WSGI callable, everything else to the product's Flask app."""
    if environ.get("PATH_INFO") == "/bench/bare":
        return _bare(environ, start_response)
    return app(environ, start_response)
