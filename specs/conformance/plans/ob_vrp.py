"""The Open Banking Variable Recurring Payments plan `ob-vrp`: the official OBIE Functional
Conformance Suite's v3.1 VRP manifest (`ob_3.1_variable_recurring_payments.json`), replayed
script by script as `ob-pis` replays the payment one (plans/ob_functional.py), against the
official VRP OpenAPI document (vrp-openapi.json), with what the VRP API does differently:

- tokens: `POST /domestic-vrps` and `POST /domestic-vrp-consents/{ConsentId}/funds-confirmation`
  take the token of the consent the script's `consentId` names (authorization code); every
  other call, the consent's GET and DELETE included, a client-credentials token with scope
  `payments`;
- signing and idempotency as the payments': every POST carries a detached x-jws-signature and
  an x-idempotency-key (the bank ignores the key on the funds confirmation, which the VRP
  resource docs mark "Idempotency Key: No");
- the customer approves each consent on the bank's pages: the signing step there shows the
  consent's MaximumIndividualAmount and payee (dynamic linking), which the suite's approver
  reads from the page as it reads a payment's amount;
- the manifest's `$transactionFromDate`/`$transactionToDate` (the consents' ValidFrom and
  ValidTo) come from the FCS configuration screen: by default today at midnight UTC and a year
  on (`ob.variables` overrides them).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..engine import Context
from .ob_functional import Functional

FUNDS_CONFIRMATION = "/funds-confirmation"


def validity_window() -> dict[str, str]:
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"transactionFromDate": today.isoformat(),
            "transactionToDate": (today + timedelta(days=365)).isoformat()}


class Vrp(Functional):
    """`api` is "pis" for what the suite does for payments (signed, idempotent POSTs); the
    document and its endpoints are the VRP API's."""

    def document_path(self, ctx: Context):
        from .. import openapi
        options = self.options(ctx)
        return openapi.document_path("vrp", options.get("openapi_version", "v3.1.11"),
                                     options.get("openapi_dir"))

    def base(self, ctx: Context) -> str:
        given = (self.options(ctx).get("base_urls") or {}).get("vrp")
        return given.rstrip("/") if given else super().base(ctx)

    def endpoints(self, ctx: Context, method: str) -> list[str]:
        given = (self.options(ctx).get("endpoints") or {}).get("vrp")
        if given is None:
            from .. import openapi
            return openapi.templates(self.document(ctx), method)
        return [e.split(" ", 1)[1] for e in given if e.split(" ", 1)[0].upper() == method.upper()]

    def state(self, ctx: Context) -> dict:
        fresh = f"ob:{self.plan}" not in ctx.state
        state = super().state(ctx)
        if fresh:
            given = self.options(ctx).get("variables") or {}
            for name, value in validity_window().items():
                state["variables"].setdefault(name, given.get(name, value))
        return state

    def token_for(self, ctx: Context, script: dict, params: dict) -> str | None:
        method, uri = script["method"].upper(), script["uri"]
        if method == "POST" and (uri == "/domestic-vrps" or uri.endswith(FUNDS_CONFIRMATION)):
            state = self.state(ctx)
            consent_param = str(params.get("consentId", "")).lstrip("$")
            token = state["tokens"].get(consent_param)
            from ..engine import expect
            expect(token, f"no authorised consent for ${consent_param}: "
                   f"{state['token_errors'].get(consent_param, 'no consent job kept it')}")
            return token
        return self.ccg_token(ctx)


VRP = Vrp("ob-vrp", "pis", "ob_3.1_variable_recurring_payments.json", "payments")
VRP_CHECKS = VRP.checks()
