"""Kept connections (aspsp/outbound.py, Policy.keep_alive: the webhooks' pushes).

A real HTTP/1.1 server on 127.0.0.1 that counts its connections and the requests on each. A
keep-alive policy sends the next request to the same origin on the same connection; every other
request still says `Connection: close`; a kept connection the server has closed is replaced by
a new one; a kept connection is never reused for a policy that does not allow its address, and
the one deadline still cuts off a slow answer on a reused connection.
"""
from __future__ import annotations

import socketserver
import threading
import time

import pytest

from aspsp import outbound

KEEP = outbound.Policy(schemes=("http",), allowed_networks=outbound.LOOPBACK, deadline=1.0,
                       keep_alive=True)
CLOSE = outbound.Policy(schemes=("http",), allowed_networks=outbound.LOOPBACK, deadline=1.0)
NO_LOOPBACK = outbound.Policy(schemes=("http",), deadline=1.0, keep_alive=True)


class _KeepAliveHandler(socketserver.BaseRequestHandler):
    """Answers 202 to every request on the connection until the client closes it. `after`:
    what to do after the first answer: "keep" (nothing), "close" (hang up without saying so),
    "drip" (answer the next request a byte every half second)."""
    after = "keep"
    connections: list
    requests: list

    def handle(self):
        self.connections.append(self.client_address)
        pending = b""
        answered = 0
        while True:
            while b"\r\n\r\n" not in pending:
                data = self.request.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(pending) < length:
                pending += self.request.recv(65536)
            pending = pending[length:]
            self.requests.append((self.client_address, head.decode("latin-1")))
            answer = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
            try:
                if answered and self.after == "drip":
                    for byte in answer:
                        self.request.sendall(bytes([byte]))
                        time.sleep(0.5)
                    return
                self.request.sendall(answer)
            except OSError:
                return
            answered += 1
            if self.after == "close":
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def serve():
    servers = []
    outbound.close_idle()

    def start(after: str = "keep"):
        handler = type("Handler", (_KeepAliveHandler,), {"after": after, "connections": [],
                                                         "requests": []})
        server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/event-notifications", handler

    yield start
    outbound.close_idle()
    for server in servers:
        server.shutdown()
        server.server_close()


def test_pushes_to_one_receiver_go_on_one_connection(serve):
    url, handler = serve()
    for i in range(5):
        response = outbound.post(url, b"token-%d" % i, policy=KEEP,
                                 headers={"Content-Type": "application/jwt"})
        assert response.status == 202
    assert len(handler.connections) == 1 and len(handler.requests) == 5
    assert all("connection: close" not in head.lower() for _, head in handler.requests)


def test_without_keep_alive_every_request_has_its_own_connection(serve):
    url, handler = serve()
    for _ in range(3):
        assert outbound.post(url, b"token", policy=CLOSE).status == 202
    assert len(handler.connections) == 3
    assert all("Connection: close" in head for _, head in handler.requests)


def test_a_kept_connection_the_receiver_closed_is_replaced_by_a_new_one(serve):
    url, handler = serve(after="close")
    assert outbound.post(url, b"first", policy=KEEP).status == 202
    time.sleep(0.2)                      # the receiver hangs up without saying so
    assert outbound.post(url, b"second", policy=KEEP).status == 202
    assert len(handler.connections) == 2 and len(handler.requests) == 2


def test_a_kept_connection_is_never_reused_where_the_policy_refuses_its_address(serve):
    url, handler = serve()
    assert outbound.post(url, b"first", policy=KEEP).status == 202
    with pytest.raises(outbound.RefusedDestination):
        outbound.post(url, b"second", policy=NO_LOOPBACK)
    assert len(handler.requests) == 1    # nothing more reached the loopback receiver


def test_the_deadline_still_cuts_off_a_slow_answer_on_a_kept_connection(serve):
    url, handler = serve(after="drip")
    assert outbound.post(url, b"first", policy=KEEP).status == 202
    with pytest.raises(outbound.DeadlineExceeded):
        outbound.post(url, b"second", policy=KEEP)
    assert len(handler.connections) == 1 and len(handler.requests) == 2
    assert outbound.post(url, b"third", policy=KEEP).status == 202   # a new connection
    assert len(handler.connections) == 2
