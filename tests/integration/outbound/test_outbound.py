"""Outbound calls cannot be turned against the bank (aspsp/outbound.py).

Real servers on 127.0.0.1 (reachable only through the sandbox's loopback allow-list): one that
drips a byte a second, one that redirects, one that sends 10 MB. With the allow-list off, every
non-public address is refused before any connection: a socket that would be opened fails the
test, so no traffic to a private address ever leaves (and none to any non-loopback address).
"""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from datetime import datetime, timezone

import pytest

from aspsp import outbound
from aspsp.oauth import trust

ALLOW_LOOPBACK = outbound.Policy(schemes=("http",), allowed_networks=outbound.LOOPBACK,
                                 deadline=1.0, max_bytes=64 * 1024)
PRODUCTION = outbound.policy_from_config({"SANDBOX_ENABLED": False})


class _Handler(socketserver.BaseRequestHandler):
    behaviour = "ok"
    requests: list
    connections: list

    def handle(self):
        self.connections.append(self.client_address)
        request = b""
        while b"\r\n\r\n" not in request:
            data = self.request.recv(4096)
            if not data:
                return
            request += data
        self.requests.append(request.decode("latin-1"))
        try:
            getattr(self, f"answer_{self.behaviour}")(request.split(b" ")[1].decode())
        except OSError:          # the client hung up: what the deadline and the cap do
            pass

    def answer_ok(self, path):
        body = b'{"keys": []}'
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (len(body), body))

    def answer_drip_body(self, path):
        self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 40\r\n\r\n")
        for _ in range(40):
            self.request.sendall(b"x")
            time.sleep(1)

    def answer_drip_headers(self, path):
        for byte in b"HTTP/1.0 200 OK\r\nX-Slow: " + b"y" * 40:
            self.request.sendall(bytes([byte]))
            time.sleep(0.5)

    def answer_redirect(self, path):
        if path.endswith("/elsewhere"):
            return self.answer_ok(path)
        self.request.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    def answer_huge(self, path):          # 10 MB, no Content-Length: only streaming can cap it
        self.request.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        for _ in range(160):
            self.request.sendall(b"z" * 65536)

    def answer_huge_declared(self, path):
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n")
        for _ in range(160):
            self.request.sendall(b"z" * 65536)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def serve():
    servers = []

    def start(behaviour: str):
        handler = type("Handler", (_Handler,), {"behaviour": behaviour, "requests": [],
                                                 "connections": []})
        server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_sockets(monkeypatch):
    """Fails the test if the code under test opens any socket."""
    opened = []

    class Refuse:
        def __init__(self, *args, **kwargs):
            opened.append(args)
            raise AssertionError("a socket was opened for a refused destination")

    monkeypatch.setattr(outbound.socket, "socket", Refuse)
    return opened


def test_a_loopback_server_answers_when_the_allow_list_has_loopback(serve):
    base, handler = serve("ok")
    response = outbound.get(f"{base}/jwks?x=1", policy=ALLOW_LOOPBACK)
    assert (response.status, response.body) == (200, b'{"keys": []}')
    assert handler.requests[0].startswith("GET /jwks?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{base.rsplit(':', 1)[1]}\r\n" in handler.requests[0]


def test_one_deadline_cuts_off_a_server_that_drips_a_byte_a_second(serve):
    base, _ = serve("drip_body")
    with pytest.raises(outbound.DeadlineExceeded):
        outbound.get(f"{base}/jwks", policy=ALLOW_LOOPBACK)


def test_one_deadline_cuts_off_a_server_that_drips_its_headers(serve):
    base, _ = serve("drip_headers")
    with pytest.raises(outbound.DeadlineExceeded):
        outbound.get(f"{base}/jwks", policy=ALLOW_LOOPBACK)


def test_redirects_are_never_followed(serve):
    base, handler = serve("redirect")
    with pytest.raises(outbound.RedirectRefused):
        outbound.get(f"{base}/jwks", policy=ALLOW_LOOPBACK)
    assert [r.split(" ")[1] for r in handler.requests] == ["/jwks"]


@pytest.mark.parametrize("behaviour", ["huge", "huge_declared"])
def test_a_body_over_the_size_cap_is_refused_while_streaming(serve, behaviour):
    base, _ = serve(behaviour)
    with pytest.raises(outbound.ResponseTooLarge):
        outbound.get(f"{base}/jwks", policy=ALLOW_LOOPBACK)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/jwks",
    "http://127.1.2.3/jwks",
    "http://10.0.0.1/jwks",
    "http://172.16.5.4/jwks",
    "http://192.168.1.1/jwks",
    "http://100.64.0.1/jwks",                 # shared address space (carrier-grade NAT)
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/jwks",
    "http://0.0.0.0/jwks",
    "http://[::]/jwks",
    "http://[::ffff:127.0.0.1]/jwks",
    "http://[::ffff:10.0.0.1]/jwks",
    "http://[64:ff9b::7f00:1]/jwks",          # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/jwks",            # 6to4 of 127.0.0.1
    "http://[fe80::1]/jwks",
    "http://[fc00::1]/jwks",
    "http://224.0.0.1/jwks",
    "http://240.0.0.1/jwks",
    "http://localhost/jwks",                  # a name: judged by what it resolves to
    "http://2130706433/jwks",                 # 127.0.0.1 as one number
])
def test_non_public_addresses_are_refused_before_any_connection(url, no_sockets):
    policy = outbound.Policy(schemes=("http", "https"))
    with pytest.raises(outbound.RefusedDestination):
        outbound.get(url, policy=policy)
    with pytest.raises(outbound.RefusedDestination):
        outbound.get(url.replace("http://", "https://", 1), policy=policy)
    assert no_sockets == []


@pytest.mark.parametrize("url", ["http://93.184.216.34/jwks", "ftp://93.184.216.34/x",
                                 "https://user:pw@93.184.216.34/x", "https:///nohost",
                                 "https://93.184.216.34:99999/x", "not a url"])
def test_production_refuses_plain_http_credentials_and_malformed_urls(url, no_sockets):
    with pytest.raises(outbound.RefusedDestination):
        outbound.get(url, policy=PRODUCTION)


def test_the_connection_goes_to_the_address_that_was_checked(serve, monkeypatch):
    """Resolved once: a second answer (DNS rebinding to another address) is never asked for."""
    base, handler = serve("ok")
    port = int(base.rsplit(":", 1)[1])
    answers = [[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))],
               [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port))]]
    asked = []

    def getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        return answers[min(len(asked) - 1, 1)]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)
    response = outbound.get(f"http://rebind.test:{port}/jwks", policy=ALLOW_LOOPBACK)
    assert response.status == 200 and asked == ["rebind.test"]
    assert f"Host: rebind.test:{port}\r\n" in handler.requests[0]


def test_a_name_with_any_non_public_address_is_refused(monkeypatch, no_sockets):
    monkeypatch.setattr(outbound.socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))])
    with pytest.raises(outbound.RefusedDestination):
        outbound.get("https://mixed.test/jwks", policy=PRODUCTION)


def test_a_configured_network_is_allowed(serve):
    base, _ = serve("ok")
    policy = outbound.policy_from_config({"SANDBOX_ENABLED": False,
                                          "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"},
                                         schemes=("http",))
    assert outbound.get(f"{base}/jwks", policy=policy).status == 200


def test_a_software_jwks_uri_on_an_internal_port_is_never_fetched_in_production(serve):
    """An SSA naming an internal port does not make the bank connect there."""
    base, handler = serve("ok")
    config = {"SANDBOX_ENABLED": False, "TRUST_ANCHORS": ""}
    for uri in (f"{base}/jwks", base.replace("http://", "https://") + "/jwks"):
        with pytest.raises(trust.JwksUnavailable):
            trust.software_jwks(None, uri, config=config,
                                now=datetime(2026, 6, 15, tzinfo=timezone.utc))
    assert handler.connections == []


def test_the_sandbox_fetches_loopback_jwks(serve):
    base, handler = serve("ok")
    config = {"SANDBOX_ENABLED": True, "TRUST_ANCHORS": ""}
    assert trust.software_jwks(None, f"{base}/sandbox.jwks", config=config,
                               now=datetime(2026, 6, 15, tzinfo=timezone.utc)) == {"keys": []}
    assert len(handler.requests) == 1
