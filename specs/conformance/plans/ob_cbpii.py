"""The Open Banking Confirmation of Funds plan `ob-cbpii`: the official OBIE Functional
Conformance Suite's v3.1 CBPII manifest (`ob_3.1_cbpii_fca.json`), replayed script by script
as `ob-pis` replays the payment one (plans/ob_functional.py), with what the CBPII API does
differently:

- the debtor account: the FCS asks for it on its configuration screen
  (`cbpiiDebtorAccountSchemeName`, `cbpiiDebtorAccountIdentification`,
  `cbpiiDebtorAccountName`: `ob.variables` here). Without them the set-up check
  `ob-cbpii-account` asks the configured customer for one through an account-access consent
  (ReadAccountsDetail, approved on the bank's pages like every other) and takes the first
  account listed with a sort code and account number or an IBAN: the account the funds
  confirmation consents then name, so the customer can approve them;
- tokens: only `POST /funds-confirmations` takes the token of the consent its `consentId`
  names (authorization code, FCS `requiresAuthCodeToken`); the consent resources,
  `GET /funds-confirmation-consents/{ConsentId}` included, a client-credentials token with
  scope `fundsconfirmations`;
- nothing is signed and there is no idempotency key (CoF profile: the endpoints "are not
  idempotent"; the resource docs' signing column is No);
- the manifest gives two scripts the id OB-301-CBPII-000009 (a DELETE with an invalid id and
  a POST with a millisecond ExpirationDateTime): the second is the check
  `OB-301-CBPII-000009#2`, so that each has its own verdict in the reports.
"""
from __future__ import annotations

import json
from collections import Counter

from ..engine import Check, Context, expect
from ..tpp import TPP
from .ob_functional import AIS, Functional

ACCOUNT_SETUP = "ob-cbpii-account"
DEBTOR_VARIABLES = ("cbpiiDebtorAccountSchemeName", "cbpiiDebtorAccountIdentification",
                    "cbpiiDebtorAccountName")
SCHEMES = ("UK.OBIE.SortCodeAccountNumber", "UK.OBIE.IBAN")


class Cbpii(Functional):
    def token_for(self, ctx: Context, script: dict, params: dict) -> str | None:
        if script["method"].upper() == "POST" and script["uri"] == "/funds-confirmations":
            state = self.state(ctx)
            consent_param = str(params.get("consentId", "")).lstrip("$")
            token = state["tokens"].get(consent_param)
            expect(token, f"no authorised consent for ${consent_param}: "
                   f"{state['token_errors'].get(consent_param, 'no consent job kept it')}")
            return token
        return self.ccg_token(ctx)

    def account_setup(self, ctx: Context) -> None:
        """The account the consents name: configured, else the first one the customer shares
        through an account-access consent."""
        variables = self.state(ctx)["variables"]
        if variables.get("cbpiiDebtorAccountIdentification"):
            variables.setdefault("cbpiiDebtorAccountSchemeName", SCHEMES[0])
            variables.setdefault("cbpiiDebtorAccountName", "Account holder")
            ctx.note("the debtor account is configured (ob.variables)")
            return
        tpp, client = TPP(ctx), AIS.client(ctx)
        base = AIS.base(ctx)
        response = tpp.resource(client, "POST", f"{base}/account-access-consents",
                                AIS.ccg_token(ctx),
                                json={"Data": {"Permissions": ["ReadAccountsDetail"]},
                                      "Risk": {}})
        expect(response.status_code == 201, f"the account-access consent was refused: "
               f"{response.status_code} {response.text[:200]}")
        token = AIS.authorise(ctx, response.json()["Data"]["ConsentId"])
        listed = tpp.resource(client, "GET", f"{base}/accounts", token)
        expect(listed.status_code == 200, f"GET /accounts answered {listed.status_code}")
        for account in (listed.json().get("Data") or {}).get("Account") or []:
            named = [a for a in account.get("Account") or [] if a.get("SchemeName") in SCHEMES]
            if named:
                variables["cbpiiDebtorAccountSchemeName"] = named[0]["SchemeName"]
                variables["cbpiiDebtorAccountIdentification"] = named[0]["Identification"]
                variables["cbpiiDebtorAccountName"] = named[0].get("Name") or "Account holder"
                ctx.note(f"the customer's account {account.get('AccountId')} "
                         f"({named[0]['SchemeName']})")
                return
        expect(False, "the customer shared no account with a sort code and account number "
               "or an IBAN (or set ob.variables.cbpiiDebtorAccountIdentification)")

    def checks(self) -> list[Check]:
        checks = super().checks()
        setup = Check(ACCOUNT_SETUP, "The debtor account the consents name: configured, or "
                      "one the customer shares", f"OBIE Functional Conformance Suite 1.9, "
                      f"{self.manifest} (the CBPII debtor account of the FCS configuration)",
                      self.plan, self.account_setup)
        names_account = {s["id"] for s in self.scripts
                         if any(v in json.dumps(s.get("parameters") or {})
                                for v in DEBTOR_VARIABLES)}
        seen: Counter = Counter()
        for check in checks:
            if check.id in names_account:
                check.after = (ACCOUNT_SETUP,) + tuple(check.after)
            seen[check.id] += 1
            if seen[check.id] > 1:
                check.id = f"{check.id}#{seen[check.id]}"
        return [setup] + checks


CBPII = Cbpii("ob-cbpii", "cbpii", "ob_3.1_cbpii_fca.json", "fundsconfirmations")
CBPII_CHECKS = CBPII.checks()
