"""The one outbound deadline holds over https too (aspsp/outbound.py).

A TLS server on 127.0.0.1 with a throwaway self-signed certificate (made here, trusted through
the module's TLS context), which drips either its handshake or its response headers. Each drip
lasts far longer than the deadline; the server records whether the client hung up before the
drip was over (a per-read timeout is reset by every byte, so only the one deadline does that).
"""
from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aspsp import outbound

POLICY = outbound.Policy(schemes=("https",), allowed_networks=outbound.LOOPBACK, deadline=1.0)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def tls_server(certificate, monkeypatch):
    cert_path, key_path = certificate
    monkeypatch.setattr(outbound, "_context",
                        ssl.create_default_context(cafile=str(cert_path)))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(cert_path), str(key_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)

    outcome: list[str] = []

    def drip(conn, data: bytes):
        for byte in data:
            try:
                conn.sendall(bytes([byte]))
            except OSError:          # the client hung up: what the deadline does
                outcome.append("client hung up mid-drip")
                return
            time.sleep(0.3)
        outcome.append("drip finished")

    def start(behaviour: str):
        def run():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            with raw:
                if behaviour == "ok":
                    conn = server_context.wrap_socket(raw, server_side=True)
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
                                 b"Connection: close\r\n\r\n{\"keys\": []}")
                    conn.close()
                elif behaviour == "drip_handshake":
                    # a TLS handshake record announcing 16 KB, then its bytes one at a time
                    drip(raw, b"\x16\x03\x03\x40\x00" + b"\x02" * 40)
                elif behaviour == "drip_headers":
                    conn = server_context.wrap_socket(raw, server_side=True)
                    conn.recv(4096)
                    drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 40)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return f"https://127.0.0.1:{listener.getsockname()[1]}"

    def result() -> list[str]:
        for thread in threads:
            thread.join(30)
        return outcome

    start.result = result
    threads: list[threading.Thread] = []

    yield start
    listener.close()


def test_https_through_the_trusted_context_answers(tls_server):
    base = tls_server("ok")
    response = outbound.get(f"{base}/jwks", policy=POLICY)
    assert (response.status, response.body) == (200, b'{"keys": []}')


def test_one_deadline_cuts_off_an_https_server_that_drips_its_handshake(tls_server):
    base = tls_server("drip_handshake")
    with pytest.raises(outbound.DeadlineExceeded):
        outbound.get(f"{base}/jwks", policy=POLICY)
    assert tls_server.result() == ["client hung up mid-drip"]


def test_one_deadline_cuts_off_an_https_server_that_drips_its_headers(tls_server):
    base = tls_server("drip_headers")
    with pytest.raises(outbound.DeadlineExceeded):
        outbound.get(f"{base}/jwks", policy=POLICY)
    assert tls_server.result() == ["client hung up mid-drip"]
