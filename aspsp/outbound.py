"""Outbound HTTP: the one way the platform calls out (client JWKS URIs and directories now,
webhooks later), built so that a URL a TPP chose cannot be turned against the bank.

For every request, in order:
1. the URL must be absolute, its scheme allowed by the policy (https; http too in the sandbox),
   with no credentials in it;
2. the host is resolved, and every address it resolves to must be public: loopback, private,
   link-local, unspecified, reserved, multicast and shared addresses are refused (IPv4 inside
   IPv6 is unwrapped: ::ffff:127.0.0.1 is loopback), unless the policy's allow-list names it
   (the sandbox allows loopback, so that `make run` and the tests talk to 127.0.0.1);
3. the connection goes to the address that was checked (never a second resolution that could
   answer differently), with the URL's host in the Host header and, for https, in SNI and the
   certificate check;
4. one deadline covers everything (resolution, connection, TLS, headers, body): a server that
   drips one byte a second is cut off when it runs out, not after a per-read timeout per byte;
5. the body is read in chunks and refused as soon as it exceeds the policy's size cap;
6. redirects are never followed.
Each refusal is a typed OutboundError; nothing is sent to a refused address.

Keep-alive (Policy.keep_alive, the webhooks' policy): a connection whose server keeps it open
is kept, idle, for the next request to the same scheme, host and port in this process (up to
IDLE_PER_ORIGIN of them, for IDLE_SECONDS). Only connections made as above are kept, so
every new connection is still resolved and checked first; a kept one goes on to the address
checked when it was made, which is checked again against the policy of each reuse. A kept
connection the server has closed meanwhile fails before an answer: the request goes once more
on a new connection (the receiver may see it twice, as when an address cannot be reached).
Other requests (JWKS, directories) send `Connection: close`, as before.
"""
from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

DEFAULT_DEADLINE_SECONDS = 5.0
DEFAULT_MAX_BYTES = 256 * 1024
CHUNK = 16 * 1024
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


class OutboundError(Exception):
    """An outbound request that was refused or failed; the message names no secret."""


class RefusedDestination(OutboundError):
    """The URL, or an address its host resolves to, is not one the platform may call."""


class DeadlineExceeded(OutboundError):
    """The whole exchange did not finish within the deadline."""


class ResponseTooLarge(OutboundError):
    """The response body is larger than the cap."""


class RedirectRefused(OutboundError):
    """The server answered with a redirect; redirects are never followed."""


class ConnectionFailed(OutboundError):
    """The host could not be resolved or reached, or the exchange broke off."""


@dataclass(frozen=True)
class Policy:
    schemes: tuple[str, ...] = ("https",)
    allowed_networks: tuple = ()          # ip_network objects reachable although not public
    deadline: float = DEFAULT_DEADLINE_SECONDS
    max_bytes: int = DEFAULT_MAX_BYTES
    keep_alive: bool = False              # keep the connection for the next request (webhooks)


def policy_from_config(config: Mapping, **overrides) -> Policy:
    """Production: https to public addresses only, plus OUTBOUND_ALLOWED_NETWORKS. The sandbox
    (SANDBOX_ENABLED) adds http and loopback, where its own directory and the tests live."""
    networks = tuple(parse_networks(config.get("OUTBOUND_ALLOWED_NETWORKS") or ""))
    schemes: tuple[str, ...] = ("https",)
    if config.get("SANDBOX_ENABLED"):
        networks, schemes = networks + LOOPBACK, ("https", "http")
    return Policy(**{"schemes": schemes, "allowed_networks": networks, **overrides})


def parse_networks(value: str) -> list:
    """Comma-separated addresses or CIDR networks; a bad entry raises ValueError."""
    return [ipaddress.ip_network(entry.strip(), strict=False)
            for entry in value.split(",") if entry.strip()]


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def is_public(address) -> bool:
    """A globally routable unicast address (IPv4 carried inside IPv6 judged as IPv4)."""
    address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv6Address):
        inner = (address.ipv4_mapped or address.sixtofour
                 or (address.teredo[1] if address.teredo else None)
                 or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
                     if address in NAT64 else None))
        if inner is not None and not is_public(inner):
            return False
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and not address.is_private and not address.is_loopback
            and not address.is_link_local and not address.is_unspecified)


def allowed(address, policy: Policy) -> bool:
    address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return is_public(address) or any(address in net for net in policy.allowed_networks
                                     if net.version == address.version)


def get(url: str, *, policy: Policy, headers: Mapping[str, str] | None = None) -> Response:
    """GET `url` under `policy`; raises an OutboundError subclass when refused or failed."""
    return _request("GET", url, policy=policy, headers=headers, body=None)


def post(url: str, body: bytes, *, policy: Policy,
         headers: Mapping[str, str] | None = None) -> Response:
    """POST `body` to `url` under `policy` (webhooks: aspsp.events), with the same checks as
    `get`. Like `get` it tries the host's next address when one cannot be reached, so a
    receiver may see a body twice: webhook receivers deduplicate (SETs by their jti)."""
    return _request("POST", url, policy=policy, headers=headers, body=body)


def _request(method: str, url: str, *, policy: Policy, headers: Mapping[str, str] | None,
             body: bytes | None) -> Response:
    deadline = time.monotonic() + policy.deadline
    parts = _checked_url(url, policy)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    origin = (parts.scheme, parts.hostname.lower(), port)
    if policy.keep_alive:
        idle = _take_idle(origin, policy)
        if idle is not None:
            try:
                return _exchange(parts, idle.address, port, target, headers or {}, policy,
                                 deadline, method=method, body=body, idle=idle)
            except ConnectionFailed:
                pass        # closed by the server meanwhile: a new connection, checked below
    addresses = _resolve(parts.hostname, port, deadline)
    refused = [a for a in addresses if not allowed(a, policy)]
    if refused:
        raise RefusedDestination(f"{parts.hostname} resolves to a non-public address")
    last_error: OutboundError | None = None
    for address in addresses:
        try:
            return _exchange(parts, address, port, target, headers or {}, policy, deadline,
                             method=method, body=body)
        except ConnectionFailed as exc:
            last_error = exc
            continue
    raise last_error or ConnectionFailed(f"{parts.hostname} could not be reached")


def _checked_url(url: str, policy: Policy):
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except (ValueError, TypeError):
        raise RefusedDestination("not a URL") from None
    if parts.scheme not in policy.schemes:
        raise RefusedDestination(f"the scheme must be {' or '.join(policy.schemes)}")
    if not parts.hostname:
        raise RefusedDestination("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("the URL must not carry credentials")
    return parts


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the deadline passed")
    return left


def _resolve(host: str, port: int, deadline: float) -> list[str]:
    """Every address of `host` (a literal address is its own), within the deadline."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=_remaining(deadline))
    except FutureTimeout:
        raise DeadlineExceeded(f"resolving {host} took too long") from None
    except (OSError, UnicodeError):
        raise ConnectionFailed(f"{host} could not be resolved") from None
    addresses = list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
    if not addresses:
        raise ConnectionFailed(f"{host} could not be resolved")
    return addresses


def _exchange(parts, address: str, port: int, target: str, headers: Mapping[str, str],
              policy: Policy, deadline: float, *, method: str = "GET",
              body: bytes | None = None, idle: _Idle | None = None) -> Response:
    """One request and its answer on a new connection to `address` (checked by the caller),
    or on the kept connection `idle`."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # `current` is whichever object owns the connection now: the plain socket, then (https)
    # the SSLSocket, since wrapping detaches the plain one and leaves it empty.
    current = [idle.stream if idle else socket.socket(family, socket.SOCK_STREAM)]
    expired = threading.Event()
    kept = False

    def cut_off():                          # the one deadline, whatever the socket is doing
        expired.set()
        try:                                # the plain socket's shutdown, also on an SSLSocket:
            socket.socket.shutdown(current[0], socket.SHUT_RDWR)  # ends a blocked read/write
        except OSError:
            pass

    timer = threading.Timer(max(deadline - time.monotonic(), 0), cut_off)
    timer.daemon = True
    timer.start()
    try:
        if idle is not None:
            stream, connection = idle.stream, idle.connection
            stream.settimeout(_remaining(deadline))
        else:
            sock = current[0]
            sock.settimeout(_remaining(deadline))
            sock.connect((address, port))
            # http.client sends the headers and the body in two writes: without this, on a
            # kept connection the body waits for the receiver's delayed ACK (~40 ms a push)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stream = sock
            if parts.scheme == "https":
                stream = _tls_context().wrap_socket(sock, server_hostname=parts.hostname,
                                                    do_handshake_on_connect=False)
                current[0] = stream
                if expired.is_set():        # the timer fired while the socket changed hands
                    raise DeadlineExceeded("the deadline passed")
                stream.settimeout(_remaining(deadline))
                stream.do_handshake()       # inside the deadline: a dripped handshake is cut
            connection = _Connection(parts.hostname, port, stream)
        host_header = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            host_header += f":{parts.port}"
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host_header)
        sent = {**({} if policy.keep_alive else {"Connection": "close"}), **headers}
        if body is not None:
            sent["Content-Length"] = str(len(body))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise RedirectRefused(f"the server answered {response.status}; redirects are not "
                                  "followed")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > policy.max_bytes:
            raise ResponseTooLarge(f"the response is larger than {policy.max_bytes} bytes")
        body = bytearray()
        while True:
            chunk = response.read1(CHUNK) if hasattr(response, "read1") else response.read(CHUNK)
            if not chunk:
                break
            body += chunk
            if len(body) > policy.max_bytes:
                raise ResponseTooLarge(f"the response is larger than {policy.max_bytes} bytes")
            _remaining(deadline)
        timer.cancel()
        if expired.is_set():                # cut off mid-body: never a truncated success
            raise DeadlineExceeded("the deadline passed")
        complete = response.isclosed() or response.length == 0   # (read1 of an empty body
        response.close()                                         # leaves it open)
        if policy.keep_alive and complete and not response.will_close:
            _put_idle((parts.scheme, parts.hostname.lower(), port),
                      _Idle(connection, stream, address, time.monotonic()))
            kept = True
        return Response(response.status, dict(response.getheaders()), bytes(body))
    except OutboundError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):   # the socket timeout is the
            raise DeadlineExceeded("the deadline passed") from None  # time left, no more
        raise ConnectionFailed(f"the exchange with {parts.hostname} failed "
                               f"({type(exc).__name__})") from None
    finally:
        timer.cancel()
        if not kept:
            current[0].close()


# --- kept connections (Policy.keep_alive) ------------------------------------------------------
IDLE_SECONDS = 30.0          # a kept connection unused this long is closed, not reused
IDLE_PER_ORIGIN = 4          # the most kept connections per scheme, host and port
IDLE_ORIGINS = 256           # the most origins with kept connections (the oldest go first)


@dataclass
class _Idle:
    connection: http.client.HTTPConnection
    stream: socket.socket
    address: str                # checked when the connection was made
    since: float


_idle: dict[tuple, list[_Idle]] = {}
_idle_lock = threading.Lock()


def _take_idle(origin: tuple, policy: Policy) -> _Idle | None:
    """The most recently kept connection to `origin` that is still fresh and whose address
    the policy allows; stale ones are closed."""
    stale, found = [], None
    with _idle_lock:
        kept = _idle.get(origin, [])
        while kept and found is None:
            candidate = kept.pop()
            if time.monotonic() - candidate.since < IDLE_SECONDS \
                    and allowed(candidate.address, policy):
                found = candidate
            else:
                stale.append(candidate)
        if not kept:
            _idle.pop(origin, None)
    for idle in stale:
        idle.stream.close()
    return found


def _put_idle(origin: tuple, idle: _Idle) -> None:
    closing = []
    with _idle_lock:
        kept = _idle.pop(origin, [])
        kept.append(idle)
        closing += kept[:-IDLE_PER_ORIGIN]
        _idle[origin] = kept[-IDLE_PER_ORIGIN:]      # (re)inserted: the newest origin last
        while len(_idle) > IDLE_ORIGINS:
            closing += _idle.pop(next(iter(_idle)))
    for old in closing:
        old.stream.close()


def close_idle() -> None:
    """Close every kept connection (tests; a process about to fork)."""
    with _idle_lock:
        kept = [idle for idles in _idle.values() for idle in idles]
        _idle.clear()
    for idle in kept:
        idle.stream.close()


if hasattr(os, "register_at_fork"):          # a child never shares its parent's connections
    os.register_at_fork(after_in_child=lambda: _idle.clear())


class _Connection(http.client.HTTPConnection):
    """An HTTPConnection over a socket we connected (to the checked address) ourselves."""

    def __init__(self, host: str, port: int, sock):
        super().__init__(host, port)
        self.sock = sock

    def connect(self):  # never resolve the host again
        raise ConnectionFailed("the connection is already closed")


_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _context
    if _context is None:
        try:
            import certifi
            _context = ssl.create_default_context(cafile=certifi.where())
        except ImportError:
            _context = ssl.create_default_context()
    return _context
