"""The development server (`make run`) over a real socket."""
from __future__ import annotations

import http.client
import threading
from contextlib import contextmanager

from deploy import devserver


@contextmanager
def dev_server(app):
    server = devserver.dev_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join()


def fetch(port: int, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_every_response_carries_exactly_one_date_header(app):
    with dev_server(app) as port:
        open_banking = fetch(port, "/open-banking/v3.1/aisp/no-such-resource")
        health = fetch(port, "/health/live")
    # The Open Banking layer dates its answers with the platform clock; the server adds none.
    assert open_banking.status == 404
    assert open_banking.msg.get_all("Date") == ["Mon, 15 Jun 2026 12:00:00 GMT"]
    # Where the application sets no Date, the server still sends its own, once.
    assert health.status == 200
    assert len(health.msg.get_all("Date")) == 1
