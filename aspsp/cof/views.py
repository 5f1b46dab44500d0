"""Confirmation of Funds API v3.1.11 under /open-banking/v3.1/cbpii: funds-confirmation
consents (POST, GET, DELETE) and the funds confirmations they allow (POST).

Who may call what (consent.gate): the consent resources take a client-credentials token with
scope `fundsconfirmations` of a client registered as a CBPII (`requires_client`); a funds
confirmation takes the customer's authorization-code token of that very consent
(`requires_consent`: Authorised, not expired, of this client; a revoked consent's tokens are
revoked with it, an expired consent's token gets a bare 401). Neither is signed nor
idempotent (OBIE CoF profile: "are not idempotent"; the resource docs' signing column is No).

Each view is one service call, the answer a plain dict encoded by orjson (aspsp.obapi.json_response);
the schemas document it. Another client's consent is answered like an unknown id (400
UK.OBIE.Resource.NotFound), as the AIS and PIS consents are; a deleted one too. A CBPII
reads nothing but the consent and the yes/no answers it asked for: the answer never carries
the balance (there is no GET of a funds confirmation in v3.1.11).
"""
from __future__ import annotations

from flask import Flask, current_app, request

from aspsp import ob_signing, obapi, platform
from aspsp.obapi import ASPSP_NAMESPACE, ErrorCode, ErrorItem, OBError
from consent import api as consent_api
from consent import gate
from consent.api import v31_status
from consent.errors import ConsentError, InvalidConsentRequest
from consent.services import ConsentRecord

from . import schemas, services
from .domain import ProblemKind
from .errors import (AccountNotEnabled, AccountNotPermitted, CofError, DuplicateReference,
                     InvalidRequest, WrongConsent)

SCOPE = "fundsconfirmations"
PREFIX = "/open-banking/v3.1/cbpii"
ACCOUNT_NOT_ENABLED = f"{ASPSP_NAMESPACE}.Account.NotEnabled"
TPP = [{"TPPOAuth2Security": [SCOPE]}]
PSU = [{"PSUOAuth2Security": [SCOPE]}]
HEADERS = list(obapi.FAPI_HEADERS)


def init_app(app: Flask) -> None:
    obapi.register_blueprint(app, _blueprint())


def _blueprint() -> obapi.Blueprint:
    """A new blueprint per app (create_app runs once per test)."""
    blp = obapi.Blueprint("Confirmation of Funds", __name__, url_prefix=PREFIX,
                          description="Confirmation of Funds API (OBIE Read/Write API "
                                      "v3.1.11): funds-confirmation consents, and whether the "
                                      "customer's account can pay an amount now (yes or no)")
    # Nothing here is signed, and a GET or DELETE has no payload a signature could cover:
    # an x-jws-signature on one is 400 UK.OBIE.Signature.Unexpected, as on the signing APIs.
    ob_signing.refuse_unexpected_signatures(blp)
    blp.register_error_handler(CofError, _cof_error)
    blp.register_error_handler(ConsentError, _consent_error)

    @blp.route("/funds-confirmation-consents", methods=["POST"],
               endpoint="CreateFundsConfirmationConsents")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="CreateFundsConfirmationConsents", security=TPP, parameters=HEADERS,
             summary="Create a funds-confirmation consent for one account "
                     "(AwaitingAuthorisation)")
    @blp.arguments(schemas.OBFundsConfirmationConsent1Schema, error_status_code=400)
    @blp.response(201, schemas.OBFundsConfirmationConsentResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_consent(parsed):
        p = platform.current()
        with p.uow() as uow:
            record = services.create_consent(uow, gate.current_client().client,
                                             request.get_json()["Data"],
                                             parsed["Data"].get("ExpirationDateTime"),
                                             p.clock.now())
            uow.commit()
        return obapi.json_response(_consent_body(record), 201)

    @blp.route("/funds-confirmation-consents/<ConsentId>", methods=["GET"],
               endpoint="GetFundsConfirmationConsentsConsentId")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="GetFundsConfirmationConsentsConsentId", security=TPP,
             parameters=HEADERS, summary="Read a funds-confirmation consent")
    @blp.response(200, schemas.OBFundsConfirmationConsentResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_consent(ConsentId: str):  # noqa: N803 (the OBIE path name)
        p = platform.current()
        with p.uow() as uow:
            record = services.get_consent(uow, gate.current_client().client, ConsentId,
                                          p.clock.now())
        return obapi.json_response(_consent_body(record))

    @blp.route("/funds-confirmation-consents/<ConsentId>", methods=["DELETE"],
               endpoint="DeleteFundsConfirmationConsentsConsentId")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="DeleteFundsConfirmationConsentsConsentId", security=TPP,
             parameters=HEADERS, summary="Delete a funds-confirmation consent: confirmations "
                                         "stop at once, its tokens are revoked")
    @blp.response(204)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def delete_consent(ConsentId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            services.delete_consent(uow, gate.current_client().client, ConsentId,
                                    p.clock.now())
            uow.commit()
        return None

    @blp.route("/funds-confirmations", methods=["POST"], endpoint="CreateFundsConfirmations")
    @gate.requires_consent(SCOPE)
    @blp.doc(operationId="CreateFundsConfirmations", security=PSU, parameters=HEADERS,
             summary="Whether the consent's account can pay the amount now (yes or no)")
    @blp.arguments(schemas.OBFundsConfirmation1Schema, error_status_code=400)
    @blp.response(201, schemas.OBFundsConfirmationResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_funds_confirmation(_parsed):
        p = platform.current()
        with p.uow() as uow:
            record = services.confirm_funds(uow, gate.current_consent(), request.get_json(),
                                            p.clock.now())
            uow.commit()
        return obapi.json_response(_confirmation_body(record), 201)

    return blp


# --- bodies --------------------------------------------------------------------------------
def _issuer() -> str:
    return current_app.config["ISSUER"].rstrip("/")


def _consent_body(record: ConsentRecord) -> dict:
    data = {"ConsentId": record.consent_id, "CreationDateTime": record.created_at,
            "Status": v31_status(record), "StatusUpdateDateTime": record.status_updated_at}
    if record.expiration is not None:
        data["ExpirationDateTime"] = record.expiration
    data["DebtorAccount"] = dict(record.data.get("DebtorAccount") or {})
    return {"Data": data,
            "Links": {"Self": f"{_issuer()}{PREFIX}/funds-confirmation-consents/"
                              f"{record.consent_id}"},
            "Meta": {}}


def _confirmation_body(record: services.ConfirmationRecord) -> dict:
    return {"Data": {"FundsConfirmationId": record.funds_confirmation_id,
                     "ConsentId": record.consent_id, "CreationDateTime": record.created_at,
                     "FundsAvailable": record.funds_available, "Reference": record.reference,
                     "InstructedAmount": {"Amount": record.amount,
                                          "Currency": record.currency}},
            "Links": {"Self": f"{_issuer()}{PREFIX}/funds-confirmations"},
            "Meta": {}}


# --- errors --------------------------------------------------------------------------------
_CODES = {ProblemKind.INVALID: ErrorCode.FIELD_INVALID,
          ProblemKind.UNSUPPORTED_SCHEME: ErrorCode.UNSUPPORTED_SCHEME,
          ProblemKind.UNSUPPORTED_CURRENCY: ErrorCode.UNSUPPORTED_CURRENCY}
_CONSENT_PROBLEM_CODES = {"invalid": ErrorCode.FIELD_INVALID,
                          "missing": ErrorCode.FIELD_MISSING,
                          "expected": ErrorCode.FIELD_EXPECTED,
                          "date": ErrorCode.FIELD_INVALID_DATE}


def _cof_error(error: CofError):
    if isinstance(error, InvalidRequest):
        return obapi.render(OBError(400, [ErrorItem(_CODES[p.kind], p.message, p.path)
                                          for p in error.problems]))
    if isinstance(error, WrongConsent):
        return obapi.render(obapi.bad_request(ErrorCode.CONSENT_MISMATCH, error.message,
                                              error.path))
    if isinstance(error, AccountNotPermitted):
        return obapi.render(obapi.forbidden(ErrorCode.ACCOUNT_NOT_PERMITTED, error.message))
    if isinstance(error, AccountNotEnabled):
        return obapi.render(obapi.forbidden(ACCOUNT_NOT_ENABLED, error.message))
    if isinstance(error, DuplicateReference):
        return obapi.render(obapi.bad_request(ErrorCode.DUPLICATE_REFERENCE, error.message,
                                              error.path))
    return obapi.render(obapi.unexpected())


def _consent_error(error: ConsentError):
    if isinstance(error, InvalidConsentRequest):
        return obapi.render(OBError(400, [ErrorItem(_CONSENT_PROBLEM_CODES[p.kind], p.message,
                                                    p.path) for p in error.problems]))
    return consent_api.lookup_error(error) or \
        obapi.render(obapi.bad_request(ErrorCode.INVALID_CONSENT_STATUS, error.message))
