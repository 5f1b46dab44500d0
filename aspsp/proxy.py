"""What the TLS proxy tells us, believed only when the peer really is the proxy.

The peer's address (the socket's REMOTE_ADDR, before anything rewrites it) decides: from a
configured TRUSTED_PROXIES address the X-Forwarded-* headers are applied (werkzeug's ProxyFix)
and the forwarded client certificate is kept; from anywhere else those headers are removed
before the application sees them, so nobody can claim a certificate or an address."""
from __future__ import annotations

from typing import Any, Mapping

from werkzeug.middleware.proxy_fix import ProxyFix

TRUSTED_PEER = "aspsp.trusted_proxy"


def _header_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


class TrustedProxyMiddleware:
    def __init__(self, app, config: Mapping[str, Any]):
        self.app = app
        self.config = config  # read per request: the platform's live settings
        self.proxied = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1)

    def trusted(self) -> set[str]:
        raw = str(self.config.get("TRUSTED_PROXIES") or "")
        return {address.strip() for address in raw.split(",") if address.strip()}

    def __call__(self, environ, start_response):
        if environ.get("REMOTE_ADDR") in self.trusted():
            environ[TRUSTED_PEER] = True
            return self.proxied(environ, start_response)
        environ[TRUSTED_PEER] = False
        cert_header = _header_key(self.config.get("CLIENT_CERT_HEADER") or "X-SSL-Client-Cert")
        for key in [k for k in environ if k.startswith("HTTP_X_FORWARDED_")
                    or k in (cert_header, "HTTP_X_SSL_CLIENT_VERIFY", "HTTP_FORWARDED")]:
            del environ[key]
        return self.app(environ, start_response)
