"""The Open Banking functional plans, driven by the official OBIE Functional Conformance Suite's
manifests (`specs/conformance/manifests/`, read by `specs/conformance/fcs.py` with the FCS's
semantics): `ob-ais` replays `ob_3.1_accounts_transactions_fca.json`, `ob-pis`
`ob_3.1_payment_fca.json`. Each script is a check named by its id (OB-301-ACC-...), titled by
its description, citing its refURI; its evidence is the request and response, its detail a
note.

How a script runs, as the FCS runs it:
- it is skipped (with the reason) when its `apiVersion` range excludes the configured API
  version (default 3.1.11) or its URI is no endpoint the bank implements (by default every
  operation of the official OpenAPI document; `ob.endpoints` narrows it, as the FCS's
  discovery template does);
- its `parameters` are resolved (`$fn:` macros, `$name` from the run's context, data.json
  bodies), then `$name` in its URI, headers and body;
- AIS: one account-access consent per permission group (`fcs.group_permissions`), each
  approved by the configured customer (PAR, the bank's login pages, code exchange): a script
  with `permissions` uses its group's token, one without runs with no token, `Bearer
  $client_access_token` is a client-credentials token; `$consentedAccountId` is the account
  the customer approved (or `ob.account_id`);
- PIS: scripts with `requestConsent: "true"` are consent jobs: they run first, then the
  customer authorises each consent they created; a payment POST and a funds confirmation
  use the token of the consent named by the script's `consentId`, the other calls a
  client-credentials token; every POST carries a detached `x-jws-signature` (OBIE v3.1.4+
  header: typ JOSE, cty, `http://openbanking.org.uk/iat|iss|tan` critical) and an
  `x-idempotency-key`; `removeHeaders` and `removeSignatureClaims` take them away;
  `validateSignature` verifies the response's `x-jws-signature` with the bank's JWKS;
- the response is evaluated against the named assertions (`fcs.evaluate`) and, with
  `schemaCheck`, validated against the official OpenAPI document (`openapi.check_response`);
  a script whose assertions hold keeps its `keepContextOnSuccess` value for later ones (as in
  the FCS, before and whatever the schema and signature checks find).

Tokens are sender-constrained the way the rest of the suite's are (DPoP): where the FCS sends
`Authorization: Bearer <token>`, this suite sends the same token with its DPoP proof, so a
refusal is about the token, not its scheme."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

from jwcrypto import jwk, jws
from jwcrypto.common import JWSEHeaderParameter

from .. import fcs, openapi
from ..engine import Check, CheckFailed, Context, expect, skip
from ..tpp import TPP, Client, new_verifier, unverified_claims

OB_IAT, OB_ISS, OB_TAN = ("http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss",
                          "http://openbanking.org.uk/tan")
OB_CRIT = (OB_IAT, OB_ISS, OB_TAN)
HEADER_REGISTRY = {name: JWSEHeaderParameter(f"OBIE {name}", False, True, None)
                   for name in OB_CRIT}
CUSTOMER_IP = "198.51.100.7"


def _tomorrow() -> str:
    moment = datetime.now(timezone.utc) + timedelta(days=1)
    return moment.replace(microsecond=0).isoformat()


def default_variables() -> dict[str, str]:
    """The values the FCS takes from its configuration screen (payment amounts, creditor
    accounts, dates); `ob.variables` in the configuration overrides any of them."""
    return {
        "instructedAmountCurrency": "GBP", "instructedAmountValue": "1.00",
        "creditorScheme": "UK.OBIE.SortCodeAccountNumber",
        "creditorIdentification": "20000319470104", "creditorName": "Conformance Creditor",
        "internationalCreditorScheme": "UK.OBIE.IBAN",
        "internationalCreditorIdentification": "DE89370400440532013000",
        "internationalCreditorName": "Conformance Creditor GmbH",
        "currencyOfTransfer": "EUR", "payment_frequency": "EvryDay",
        "firstPaymentDateTime": _tomorrow(), "requestedExecutionDateTime": _tomorrow()}


class Functional:
    """One functional plan: a manifest, its API's OpenAPI document, and the run's state."""

    def __init__(self, plan: str, api: str, manifest: str, scope: str):
        self.plan, self.api, self.manifest, self.scope = plan, api, manifest, scope
        self.scripts = fcs.load_scripts(manifest)
        self.setup_id = f"{plan}-consents"

    # --- the run's state ------------------------------------------------------------------
    def options(self, ctx: Context) -> dict:
        return ctx.config.get("ob") or {}

    def state(self, ctx: Context) -> dict:
        key = f"ob:{self.plan}"
        if key not in ctx.state:
            variables = {**default_variables(), **(self.options(ctx).get("variables") or {})}
            ctx.state[key] = {"variables": variables, "tokens": {}, "ccg": None,
                              "token_errors": {}}
        return ctx.state[key]

    def document_path(self, ctx: Context):
        options = self.options(ctx)
        return openapi.document_path(self.api, options.get("openapi_version", "v3.1.11"),
                                     options.get("openapi_dir"))

    def document(self, ctx: Context) -> dict:
        return openapi.load(str(self.document_path(ctx)))

    def base(self, ctx: Context) -> str:
        given = (self.options(ctx).get("base_urls") or {}).get(self.api)
        return (given or ctx.issuer.rstrip("/") + openapi.server_prefix(self.document(ctx))
                ).rstrip("/")

    def endpoints(self, ctx: Context, method: str) -> list[str]:
        given = (self.options(ctx).get("endpoints") or {}).get(self.api)
        if given is None:
            return openapi.templates(self.document(ctx), method)
        return [e.split(" ", 1)[1] for e in given if e.split(" ", 1)[0].upper() == method.upper()]

    def once(self, ctx: Context, key: str, make):
        """What `make` returns, made once a run; its failure is remembered too, so that every
        script after a refused registration or token says why without asking again."""
        done = ctx.state.setdefault("ob:once", {})
        if key not in done:
            try:
                done[key] = (True, make())
            except CheckFailed as exc:
                done[key] = (False, str(exc))
        ok, value = done[key]
        expect(ok, f"{value} (first seen by an earlier check)" if not ok else "")
        return value

    def client(self, ctx: Context) -> Client:
        tpp = TPP(ctx)
        name = f"{self.api}_client"
        if name in ctx.state:
            return ctx.state[name]
        if self.api == "ais":
            return tpp.client()
        if ctx.config.get(name):
            return tpp.client(name)
        if not ctx.config.get("directory"):
            skip(f"the configuration has no {name} and no directory to register one")
        ctx.state[name] = self.once(ctx, name, lambda: tpp.register(
            scope=f"openid {self.scope}"))
        return ctx.state[name]

    # --- tokens -------------------------------------------------------------------------
    def ccg_token(self, ctx: Context) -> str:
        """A client-credentials token, renewed every five minutes (it lives ten); a refusal
        is remembered, so that later scripts say why without asking again."""
        state = self.state(ctx)
        token, obtained = state["ccg"] or (None, 0.0)
        if token is None or time.monotonic() - obtained > 300:
            expect(not state.get("ccg_error"), f"{state.get('ccg_error')} (first seen by an "
                   "earlier check)")
            client = self.client(ctx)
            try:
                token = TPP(ctx).client_credentials(client, scope=self.scope)
            except CheckFailed as exc:
                state["ccg_error"] = str(exc)
                raise
            state["ccg"] = (token, time.monotonic())
        return token

    def authorise(self, ctx: Context, consent_id: str) -> str:
        """The customer authorises a consent (PAR, the bank's pages, code exchange): the
        access token bound to it."""
        tpp, client = TPP(ctx), self.client(ctx)
        verifier = new_verifier()
        params = tpp.par_params(client, consent_id, verifier, scope=f"openid {self.scope}")
        pushed = tpp.push(client, params)
        expect(pushed.status_code == 201, f"PAR for consent {consent_id} answered "
               f"{pushed.status_code}: {pushed.text[:300]}")
        location = tpp.approve(client, pushed.json()["request_uri"])
        returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        expect("code" in returned, f"the authorisation of consent {consent_id} gave no code: "
               f"{returned.get('error')} {returned.get('error_description', '')}")
        response = tpp.exchange(client, returned["code"], verifier)
        expect(response.status_code == 200, f"the code exchange for consent {consent_id} "
               f"answered {response.status_code}: {response.text[:300]}")
        return response.json()["access_token"]

    # --- signing ------------------------------------------------------------------------
    def signer(self, ctx: Context) -> tuple[str, str]:
        """The TPP's `http://openbanking.org.uk/iss` and `/tan`: `ob.jws` when configured,
        else `{org_id}/{software_id}` of the directory's software statement and the trust
        anchor that signed it (the bank's own host for a directory the bank serves, the
        sandbox's; `openbanking.org.uk` for another)."""
        options = self.options(ctx).get("jws") or {}
        if "jws_signer" not in ctx.state:
            iss, tan = options.get("iss"), options.get("tan")
            directory = ctx.config.get("directory") or {}
            if not iss and directory:
                claims = unverified_claims(TPP(ctx).get_ssa())
                iss = f"{claims.get('org_id')}/{claims.get('software_id', directory['software_id'])}"
            if not tan:
                own = "ssa_endpoint" not in directory or directory["ssa_endpoint"].startswith(
                    ("{issuer}", ctx.issuer))
                tan = urlsplit(ctx.issuer).hostname if own else "openbanking.org.uk"
            ctx.state["jws_signer"] = (iss or self.client(ctx).client_id, tan)
        return ctx.state["jws_signer"]

    def jws_signature(self, ctx: Context, body: bytes, remove_claims: list[str]) -> str:
        """A detached JWS of the body (OBIE Read/Write v3.1.4+ message signing)."""
        client = self.client(ctx)
        iss, tan = self.signer(ctx)
        header = {"alg": client.alg, "typ": "JOSE", "cty": "application/json",
                  OB_IAT: int(time.time()), OB_ISS: iss, OB_TAN: tan, "crit": list(OB_CRIT)}
        if client.key.get("kid"):
            header["kid"] = client.key.get("kid")
        for claim in remove_claims:
            header.pop(claim if claim.startswith("http") else
                       f"http://openbanking.org.uk/{claim}", None)
        # JWSCore signs what it is given (jws.JWS would refuse a header that lacks a claim
        # its crit names, which removeSignatureClaims asks for).
        signed = jws.JWSCore(client.alg, client.key, json.dumps(header), body).sign()
        ctx.note(f"x-jws-signature header sent: {header}")
        return f"{signed['protected']}..{signed['signature']}"

    def verify_response_signature(self, ctx: Context, response) -> list[str]:
        signature = response.headers.get("x-jws-signature")
        if not signature:
            return ["the response has no x-jws-signature (validateSignature)"]
        try:
            keys = ctx.http.get(TPP(ctx).discovery()["jwks_uri"])
            keyset = jwk.JWKSet.from_json(keys.text)
            token = jws.JWS(header_registry=HEADER_REGISTRY)
            token.deserialize(signature)
            header = token.jose_header
            missing = [c for c in OB_CRIT if c not in header]
            key = keyset.get_key(header.get("kid")) if header.get("kid") else None
            if key is None:
                return [f"x-jws-signature: no key {header.get('kid')!r} in the bank's JWKS"]
            token.verify(key, detached_payload=response.content)
        except Exception as exc:  # jwcrypto's format and signature errors
            return [f"x-jws-signature does not verify: {exc}"]
        return [f"x-jws-signature lacks {', '.join(missing)}"] if missing else []

    # --- one script -----------------------------------------------------------------------
    def needs_setup(self, script: dict) -> bool:
        return bool(script.get("permissions")) or "consentedAccountId" in json.dumps(
            script.get("parameters") or {})

    def skip_reason(self, ctx: Context, script: dict) -> str | None:
        version = self.options(ctx).get("api_version", "3.1.11")
        if script.get("apiVersion") and not fcs.version_in_range(version, script["apiVersion"]):
            return f"apiVersion {script['apiVersion']} excludes the API version {version}"
        if fcs.endpoint_of(script, self.endpoints(ctx, script["method"])) is None:
            return (f"{script['method'].upper()} {script['uri']} is no endpoint of the API "
                    "(the FCS does not run it either: its URI matches no discovered endpoint)")
        return None

    def token_for(self, ctx: Context, script: dict, params: dict) -> str | None:
        state = self.state(ctx)
        if self.api == "ais":
            if not script.get("permissions"):
                return None
            group = state["script_group"].get(script["id"])
            expect(group and group in state["tokens"], f"no token for {script['id']}'s "
                   f"permission group: {state['token_errors'].get(group, 'not set up')}")
            return state["tokens"][group]
        method, uri = script["method"].upper(), script["uri"]
        needs_consent = (method == "GET" and "funds-confirmation" in uri) or \
            (method == "POST" and "consents" not in uri)
        if needs_consent:
            consent_param = str(params.get("consentId", "")).lstrip("$")
            token = state["tokens"].get(consent_param)
            expect(token, f"no authorised consent for ${consent_param}: "
                   f"{state['token_errors'].get(consent_param, 'no consent job kept it')}")
            return token
        return self.ccg_token(ctx)

    def run_script(self, ctx: Context, script: dict) -> None:
        reason = self.skip_reason(ctx, script)
        if reason:
            skip(reason)
        if script.get("detail"):
            ctx.note(f"{script['detail']} (uriImplementation: "
                     f"{script.get('uriImplementation', 'not given')})")
        state = self.state(ctx)
        variables = state["variables"]
        params = fcs.resolve_parameters(script, variables)
        scope = {**variables, **params}
        try:
            path = fcs.substitute(script["uri"], scope)
            body = fcs.substitute(script["body"], scope).encode() if script.get("body") else None
        except fcs.Unresolved as exc:
            expect(False, f"{exc} is not set: the script that keeps it did not pass")
        url = self.base(ctx) + path
        if script.get("queryParameters"):
            url += "?" + urlencode({k: fcs.substitute(v, scope, strict=False)
                                    for k, v in script["queryParameters"].items()})
        method = script["method"].upper()
        tpp, client = TPP(ctx), self.client(ctx)
        headers = {"x-fapi-interaction-id": str(uuid.uuid4()), "x-fcs-testcase-id": script["id"],
                   "x-fapi-customer-ip-address": ctx.config.get("customer_ip", CUSTOMER_IP)}
        if self.options(ctx).get("financial_id"):
            headers["x-fapi-financial-id"] = self.options(ctx)["financial_id"]
        token = self.token_for(ctx, script, params)
        for name, value in (script.get("headers") or {}).items():
            if name.lower() == "authorization":
                expect(value.strip() == "Bearer $client_access_token",
                       f"unsupported Authorization header in the manifest: {value}")
                token = self.ccg_token(ctx)
                continue
            value = fcs.substitute(value, scope, strict=False)
            if "$" in value and name.lower() == "x-fapi-interaction-id":
                value = str(uuid.uuid4())  # named by the script, defined by none
            headers[name] = value
        if token:
            headers.update(tpp.auth_headers(client, method, url.split("?")[0], token))
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        if self.api == "pis" and method == "POST":
            headers["x-idempotency-key"] = uuid.uuid4().hex
            headers["x-jws-signature"] = self.jws_signature(
                ctx, body or b"", script.get("removeSignatureClaims") or [])
        removed = {h.lower() for h in script.get("removeHeaders") or []}
        headers = {k: v for k, v in headers.items() if k.lower() not in removed}
        response = ctx.http.request(method, url, headers=headers, data=body)
        seen = fcs.Response(response.status_code, dict(response.headers), response.text)
        problems = fcs.evaluate(script, seen, {**scope, **headers})  # $x-fapi-... as sent
        for name in fcs.corrected_assertions(script):  # said in the evidence, every time
            wrong, right = fcs.CORRECTIONS[name]
            ctx.note(f"assertion {name} corrected for this run: it reads {right}, where the "
                     f"official assertions.json reads {wrong} (specs/conformance/fcs.py); "
                     "the official suite would judge this script on the uncorrected one")
        kept = None if problems else fcs.kept_value(script, seen)
        if kept:  # as in the FCS, the assertions decide: schema and signature problems follow
            variables[kept[0]] = kept[1]
            ctx.note(f"kept {kept[0]} = {kept[1]}")
        if script.get("schemaCheck"):
            problems += openapi.check_response(self.document_path(ctx), path, method,
                                               response.status_code, response.text,
                                               dict(response.headers))
        if script.get("validateSignature") and response.status_code < 300:
            problems += self.verify_response_signature(ctx, response)
        if problems and response.status_code == 404 and not any(
                "404" in a for a in script.get("asserts") or []):
            problems.append(f"the bank answered 404 to {method} {path}: the endpoint is not "
                            "implemented")
        expect(not problems, "; ".join(problems))

    # --- AIS set-up -------------------------------------------------------------------------
    def ais_setup(self, ctx: Context) -> None:
        """One account-access consent per permission group, each approved by the customer;
        the account the customer approved is $consentedAccountId."""
        state = self.state(ctx)
        runnable = [s for s in self.scripts if not self.skip_reason(ctx, s)]
        groups = fcs.group_permissions(runnable)
        state["groups"] = groups
        state["script_group"] = {i: g.name for g in groups for i in g.ids}
        tpp, client = TPP(ctx), self.client(ctx)
        token = self.ccg_token(ctx)
        failures = []
        for group in groups:
            ctx.note(f"{group.name}: permissions {group.permissions}, for {len(group.ids)} "
                     f"scripts (excluded: {group.excluded})")
            response = tpp.resource(client, "POST", self.base(ctx) + "/account-access-consents",
                                    token, json={"Data": {"Permissions": group.permissions},
                                                 "Risk": {}})
            if response.status_code != 201:
                state["token_errors"][group.name] = (f"the consent was refused: "
                                                     f"{response.status_code} {response.text[:200]}")
                failures.append(f"{group.name}: {state['token_errors'][group.name]}")
                continue
            consent_id = response.json()["Data"]["ConsentId"]
            try:
                state["tokens"][group.name] = self.authorise(ctx, consent_id)
            except Exception as exc:  # the failure is this group's, reported below
                state["token_errors"][group.name] = str(exc)
                failures.append(f"{group.name}: {exc}")
        account = self.options(ctx).get("account_id")
        if not account:
            for group in groups:
                if group.name in state["tokens"] and {"ReadAccountsBasic", "ReadAccountsDetail"} \
                        & set(group.permissions):
                    listed = tpp.resource(client, "GET", self.base(ctx) + "/accounts",
                                          state["tokens"][group.name])
                    accounts = (listed.json().get("Data") or {}).get("Account") or [] \
                        if listed.status_code == 200 else []
                    if accounts:
                        account = accounts[0]["AccountId"]
                        break
        if account:
            state["variables"]["consentedAccountId"] = account
        expect(not failures, "; ".join(failures))
        expect(account, "no account: the approved consents list none (or set ob.account_id)")

    # --- PIS set-up ----------------------------------------------------------------------
    def consent_jobs(self) -> list[dict]:
        return [s for s in self.scripts
                if (s.get("parameters") or {}).get("requestConsent") == "true"]

    def pis_authorisations(self, ctx: Context) -> None:
        """The customer authorises every consent the consent jobs created."""
        state = self.state(ctx)
        failures, done = [], 0
        for job in self.consent_jobs():
            name = (job.get("keepContextOnSuccess") or {}).get("name")
            if not name or self.skip_reason(ctx, job):
                continue
            consent_id = state["variables"].get(name)
            if not consent_id:
                state["token_errors"][name] = f"consent job {job['id']} did not pass"
                failures.append(state["token_errors"][name])
                continue
            try:
                state["tokens"][name] = self.authorise(ctx, consent_id)
                done += 1
            except Exception as exc:  # the failure is this consent's, reported below
                state["token_errors"][name] = f"{job['id']}'s consent: {exc}"
                failures.append(state["token_errors"][name])
        ctx.note(f"{done} consents authorised")
        expect(not failures, "; ".join(failures))

    # --- the checks -----------------------------------------------------------------------
    def checks(self) -> list[Check]:
        source = f"OBIE Functional Conformance Suite 1.9, {self.manifest}"
        out: list[Check] = []

        def script_check(script: dict, needs: tuple[str, ...] = ()) -> Check:
            clause = script.get("refURI") or source
            return Check(script["id"], script.get("description", script["id"]),
                         clause if clause == source else f"{clause} ({source})", self.plan,
                         lambda ctx, s=script: self.run_script(ctx, s), needs)

        if self.api == "ais":
            out.append(Check(self.setup_id, "The consents the scripts need, one per permission "
                             "group, approved by the customer", f"{source}; FCS pkg/manifest/"
                             "permx.go (consent grouping)", self.plan, self.ais_setup))
            out += [script_check(s, (self.setup_id,) if self.needs_setup(s) else ())
                    for s in self.scripts]
            return out
        jobs = self.consent_jobs()
        authorisations = f"{self.plan}-authorisations"
        keepers = {(s.get("keepContextOnSuccess") or {}).get("name"): s["id"]
                   for s in self.scripts if s.get("keepContextOnSuccess")}

        def after(script: dict) -> tuple[str, ...]:
            """The scripts that keep a value this one uses, and the authorisations when it
            uses a consent's token: run before it (by --only too), without gating it."""
            text = json.dumps([script.get("parameters"), script.get("uri"), script.get("body")])
            names = set(fcs.VARIABLE.findall(text))
            for value in (script.get("parameters") or {}).values():
                body = fcs.body_data(str(value)[1:]) if str(value).startswith("$") else None
                names |= set(fcs.VARIABLE.findall(body or ""))
            earlier = tuple(dict.fromkeys(keepers[n] for n in sorted(names)
                                          if n in keepers and keepers[n] != script["id"]))
            return earlier + ((authorisations,) if script not in jobs and any(
                keepers.get(n) in {j["id"] for j in jobs} for n in names) else ())

        def pis_check(script: dict) -> Check:
            made = script_check(script)
            made.after = after(script)
            return made

        out += [pis_check(s) for s in jobs]
        out.append(Check(authorisations, "The customer authorises every consent the consent "
                         "jobs created", f"{source}; FCS pkg/manifest/permx.go (payment consent "
                         "jobs)", self.plan, self.pis_authorisations,
                         after=tuple(j["id"] for j in jobs)))
        out += [pis_check(s) for s in self.scripts if s not in jobs]
        return out


AIS = Functional("ob-ais", "ais", "ob_3.1_accounts_transactions_fca.json", "accounts")
PIS = Functional("ob-pis", "pis", "ob_3.1_payment_fca.json", "payments")
AIS_CHECKS = AIS.checks()
PIS_CHECKS = PIS.checks()
