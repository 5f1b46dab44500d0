"""Client-credentials tokens per second at POST /token with private_key_jwt and DPoP,
against the JOSE work alone in the same run.

The baseline does, per iteration, exactly what the issue names: one PS256 verification (the
client assertion) and one PS256 signature (as a signed token would need) with jwcrypto. The
endpoint does that verification plus a DPoP proof verification (ES256), a client lookup, a
replay check and a token insert+commit, but no signature (our access tokens are opaque).
Assertions and proofs are made before the clock starts: only the server's work is timed.

    .venv/bin/python bench/token_endpoint.py [--requests 600] [--pg postgresql://...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_SERVER, create_database, drop_database, machine, save  # noqa: E402


def build(url: str):
    from jwcrypto import jwk

    from aspsp import create_app
    from aspsp.ids import new_id
    from aspsp.oauth.models import OAuthClient

    app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True, "ISSUER": "http://localhost",
                      "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
                      "INSTANCE_PATH": "/tmp/aspsp-bench"})
    key = jwk.JWK.generate(kty="RSA", size=2048, kid="bench-ps256")
    dpop = jwk.JWK.generate(kty="EC", crv="P-256")
    public = {**json.loads(key.export_public()), "use": "sig", "alg": "PS256"}
    now = datetime.now(timezone.utc)
    p = app.extensions["aspsp"]
    with p.uow() as uow:
        row = OAuthClient(client_id=new_id(), software_id="bench", org_id="bench",
                          client_name="Bench TPP", profile="fapi2", roles=["AISP"],
                          client_metadata={"token_endpoint_auth_method": "private_key_jwt",
                                           "grant_types": ["client_credentials"],
                                           "scope": "accounts", "jwks": {"keys": [public]},
                                           "redirect_uris": ["https://bench.example/cb"],
                                           "response_types": ["code"]},
                          software_statement="", created_at=now, updated_at=now)
        uow.session.add(row)
        uow.commit()
        return app, row.client_id, key, dpop


def signed(key, claims, alg, header=None):
    from jwcrypto import jwt
    token = jwt.JWT(header={"alg": alg, "kid": key.get("kid"), **(header or {})}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--pg", default=DEFAULT_SERVER)
    args = parser.parse_args()

    url = create_database(args.pg, "bench_token")
    try:
        app, client_id, key, dpop_key = build(url)
        issuer = app.config["ISSUER"]
        now = int(time.time())
        requests_ = []
        for _ in range(args.requests):
            assertion = signed(key, {"iss": client_id, "sub": client_id, "aud": issuer,
                                     "jti": uuid.uuid4().hex, "iat": now, "exp": now + 300},
                               "PS256")
            proof = signed(dpop_key, {"jti": uuid.uuid4().hex, "htm": "POST",
                                      "htu": "http://localhost/token", "iat": now},
                           "ES256", {"typ": "dpop+jwt",
                                     "jwk": json.loads(dpop_key.export_public())})
            requests_.append((assertion, proof))
        http = app.test_client()
        http.post("/token", data={"grant_type": "client_credentials"})  # warm up
        started = time.perf_counter()
        for assertion, proof in requests_:
            response = http.post("/token", data={
                "grant_type": "client_credentials", "scope": "accounts",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion}, headers={"DPoP": proof})
            assert response.status_code == 200, response.get_json()
        endpoint_rate = args.requests / (time.perf_counter() - started)

        from jwcrypto import jws
        started = time.perf_counter()
        for assertion, _ in requests_:
            verifier = jws.JWS()
            verifier.deserialize(assertion)
            verifier.verify(key, alg="PS256")
            signed(key, {"sub": client_id, "scope": "accounts", "exp": now + 600}, "PS256")
        jose_rate = args.requests / (time.perf_counter() - started)
    finally:
        drop_database(url)

    result = {"benchmark": "token_endpoint", "requests": args.requests,
              "token_endpoint_per_s": round(endpoint_rate, 1),
              "jose_alone_per_s": round(jose_rate, 1),
              "ratio": round(endpoint_rate / jose_rate, 3), "machine": machine()}
    print(json.dumps(result, indent=2))
    print(f"saved {save('token_endpoint', result)}")


if __name__ == "__main__":
    main()
