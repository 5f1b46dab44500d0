"""Payment Initiation API v3.1.11 under /open-banking/v3.1/pisp: domestic payment consents,
their funds confirmation, and the domestic payments they allow.

Who may call what (consent.gate): the consent resources and the reading of payments take a
client-credentials token with scope `payments` of a client registered as a PISP
(`requires_client`); the funds confirmation and the submission of a payment take the
customer's authorization-code token of that very consent (`requires_consent`). Each view is
then one service call, the answer built as a plain dict and encoded by orjson
(aspsp.pis.encoding); the schemas document it. Another client's consent or payment is
answered like an unknown id (400 UK.OBIE.Resource.NotFound), as the AIS consents are.
"""
from __future__ import annotations

from flask import Flask, current_app, request

from aspsp import obapi, platform
from aspsp.obapi import ErrorCode, ErrorItem, OBError
from consent import gate
from consent.domain import ConsentStatus
from consent.errors import ConsentError, ConsentNotFound

from . import encoding, services
from .domain import ProblemKind
from .errors import (ConsentNotUsable, DebtorNotPermitted, InvalidPaymentRequest,
                     PaymentOrderNotFound, PisError, WrongConsent)
from .schemas import (OBWriteDomestic2Schema, OBWriteDomesticConsent4Schema,
                      OBWriteDomesticConsentResponse5Schema, OBWriteDomesticResponse5Schema,
                      OBWriteFundsConfirmationResponse1Schema,
                      OBWritePaymentDetailsResponse1Schema)

SCOPE = "payments"
PREFIX = "/open-banking/v3.1/pisp"
V31_CONSENT_STATUSES = {ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AUTHORISED,
                        ConsentStatus.CONSUMED, ConsentStatus.REJECTED}
IDEMPOTENCY_HEADER = {"in": "header", "name": "x-idempotency-key", "required": True,
                      "description": "Every POST: at most 40 characters, no leading or "
                      "trailing white space", "schema": {"type": "string", "maxLength": 40,
                                                         "pattern": "^(?!\\s)(.*)(\\S)$"}}
SIGNATURE_HEADER = {"in": "header", "name": "x-jws-signature", "required": True,
                    "description": "Detached JWS of the request body (OBIE message signing)",
                    "schema": {"type": "string"}}


def init_app(app: Flask) -> None:
    obapi.register_blueprint(app, _blueprint())


def _blueprint() -> obapi.Blueprint:
    """A new blueprint per app (create_app runs once per test)."""
    blp = obapi.Blueprint("Payment Initiation", __name__, url_prefix=PREFIX,
                          description="Payment Initiation API (OBIE Read/Write API v3.1.11): "
                                      "payment consents and the payments they allow")
    blp.register_error_handler(PisError, _pis_error)
    blp.register_error_handler(ConsentError, _consent_error)
    tpp = [{"TPPOAuth2Security": [SCOPE]}]
    psu = [{"PSUOAuth2Security": [SCOPE]}]
    headers = list(obapi.FAPI_HEADERS)
    posts = headers + [IDEMPOTENCY_HEADER, SIGNATURE_HEADER]

    # domestic payment consents ---------------------------------------------------------------
    @blp.route("/domestic-payment-consents", methods=["POST"],
               endpoint="CreateDomesticPaymentConsents")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="CreateDomesticPaymentConsents", security=tpp, parameters=posts)
    @blp.arguments(OBWriteDomesticConsent4Schema, error_status_code=400)
    @blp.response(201, OBWriteDomesticConsentResponse5Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_domestic_payment_consent(parsed):
        """Create a domestic payment consent (AwaitingAuthorisation)"""
        obapi.idempotency_key()
        p = platform.current()
        with p.uow() as uow:
            view = services.create_domestic_consent(uow, gate.current_client().client,
                                                    request.get_json(), parsed, p.clock.now())
            uow.commit()
        return encoding.json_response(_consent_body(view), 201)

    @blp.route("/domestic-payment-consents/<ConsentId>", methods=["GET"],
               endpoint="GetDomesticPaymentConsentsConsentId")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="GetDomesticPaymentConsentsConsentId", security=tpp,
             parameters=headers)
    @blp.response(200, OBWriteDomesticConsentResponse5Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_domestic_payment_consent(ConsentId: str):  # noqa: N803 (the OBIE path name)
        """Read a domestic payment consent"""
        p = platform.current()
        with p.uow() as uow:
            view = services.get_consent(uow, gate.current_client().client, ConsentId,
                                        services.DOMESTIC_PAYMENT, p.clock.now())
        return encoding.json_response(_consent_body(view))

    @blp.route("/domestic-payment-consents/<ConsentId>/funds-confirmation", methods=["GET"],
               endpoint="GetDomesticPaymentConsentsConsentIdFundsConfirmation")
    @gate.requires_consent(SCOPE)
    @blp.doc(operationId="GetDomesticPaymentConsentsConsentIdFundsConfirmation", security=psu,
             parameters=headers)
    @blp.response(200, OBWriteFundsConfirmationResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_domestic_payment_funds_confirmation(ConsentId: str):  # noqa: N803
        """Whether the customer's account can pay the consent's amount now"""
        p = platform.current()
        now = p.clock.now()
        with p.uow() as uow:
            available = services.funds_confirmation(uow, gate.current_consent(), ConsentId,
                                                    now)
        return encoding.json_response({
            "Data": {"FundsAvailableResult": {"FundsAvailableDateTime": now,
                                              "FundsAvailable": available}},
            "Links": {"Self": _self()}, "Meta": {}})

    # domestic payments ------------------------------------------------------------------------
    @blp.route("/domestic-payments", methods=["POST"], endpoint="CreateDomesticPayments")
    @gate.requires_consent(SCOPE)
    @blp.doc(operationId="CreateDomesticPayments", security=psu, parameters=posts)
    @blp.arguments(OBWriteDomestic2Schema, error_status_code=400)
    @blp.response(201, OBWriteDomesticResponse5Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_domestic_payment(_parsed):
        """Submit the payment an authorised domestic payment consent allows (once)"""
        obapi.idempotency_key()
        p = platform.current()
        context = gate.current_consent()
        with p.uow() as uow:
            record = services.submit_order(uow, context, _ClientOf(context),
                                           request.get_json(), services.DOMESTIC_PAYMENT,
                                           p.clock.now())
            uow.commit()
        return encoding.json_response(_order_body(record), 201)

    @blp.route("/domestic-payments/<DomesticPaymentId>", methods=["GET"],
               endpoint="GetDomesticPaymentsDomesticPaymentId")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="GetDomesticPaymentsDomesticPaymentId", security=tpp,
             parameters=headers)
    @blp.response(200, OBWriteDomesticResponse5Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_domestic_payment(DomesticPaymentId: str):  # noqa: N803
        """Read a domestic payment and its status"""
        p = platform.current()
        with p.uow() as uow:
            record = services.get_order(uow, gate.current_client().client, DomesticPaymentId,
                                        services.DOMESTIC_PAYMENT)
        return encoding.json_response(_order_body(record))

    @blp.route("/domestic-payments/<DomesticPaymentId>/payment-details", methods=["GET"],
               endpoint="GetDomesticPaymentsDomesticPaymentIdPaymentDetails")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="GetDomesticPaymentsDomesticPaymentIdPaymentDetails", security=tpp,
             parameters=headers)
    @blp.response(200, OBWritePaymentDetailsResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_domestic_payment_details(DomesticPaymentId: str):  # noqa: N803
        """Every status the payment has had, oldest first"""
        p = platform.current()
        with p.uow() as uow:
            record = services.get_order(uow, gate.current_client().client, DomesticPaymentId,
                                        services.DOMESTIC_PAYMENT)
        return encoding.json_response(_details_body(record))

    return blp


class _ClientOf:
    """The calling client as the services read it, from the gate's consent context."""

    def __init__(self, context):
        self.id, self.client_id = context.client_pk, context.client_id


# --- bodies ----------------------------------------------------------------------------------
def _issuer() -> str:
    return current_app.config["ISSUER"].rstrip("/")


def _self() -> str:
    return _issuer() + request.path


def v31_consent_status(record) -> str:
    """v3.1 has no Expired or Revoked for payment consents: both show as Rejected."""
    status = ConsentStatus(record.status)
    return status.value if status in V31_CONSENT_STATUSES else ConsentStatus.REJECTED.value


def _consent_body(view: services.ConsentView) -> dict:
    record = view.record
    data = {"ConsentId": record.consent_id, "CreationDateTime": record.created_at,
            "Status": v31_consent_status(record),
            "StatusUpdateDateTime": record.status_updated_at}
    for name in ("ReadRefundAccount", "Initiation", "Authorisation", "SCASupportData"):
        if name in record.data:
            data[name] = record.data[name]
    if view.debtor is not None:
        data["Debtor"] = view.debtor
    path = {"domestic-payment": "domestic-payment-consents"}[record.consent_type]
    return {"Data": data, "Risk": record.data.get("Risk", {}),
            "Links": {"Self": f"{_issuer()}{PREFIX}/{path}/{record.consent_id}"}, "Meta": {}}


def _order_body(record: services.OrderRecord) -> dict:
    data = {"DomesticPaymentId": record.payment_order_id, "ConsentId": record.consent_id,
            "CreationDateTime": record.created_at, "Status": record.status,
            "StatusUpdateDateTime": record.status_updated_at,
            "Initiation": record.initiation}
    if record.debtor is not None:
        data["Debtor"] = record.debtor
    return {"Data": data,
            "Links": {"Self": f"{_issuer()}{PREFIX}/domestic-payments/"
                              f"{record.payment_order_id}"},
            "Meta": {}}


_STATUS_REASONS = {"Rejected": "ProprietaryRejection",
                   "AcceptedSettlementInProcess": "PendingSettlement"}


def _details_body(record: services.OrderRecord) -> dict:
    steps = []
    for step in record.history:
        item = {"PaymentTransactionId": record.transaction_id, "Status": step.status,
                "StatusUpdateDateTime": step.at}
        if step.status in _STATUS_REASONS:
            item["StatusDetail"] = {"Status": step.status,
                                    "StatusReason": _STATUS_REASONS[step.status]}
            if step.reason:
                item["StatusDetail"]["StatusReasonDescription"] = step.reason[:256]
        steps.append(item)
    return {"Data": {"PaymentStatus": steps}, "Links": {"Self": _self()}, "Meta": {}}


# --- errors ----------------------------------------------------------------------------------
_PROBLEM_CODES = {ProblemKind.INVALID: ErrorCode.FIELD_INVALID,
                  ProblemKind.INVALID_DATE: ErrorCode.FIELD_INVALID_DATE,
                  ProblemKind.UNSUPPORTED_CURRENCY: ErrorCode.UNSUPPORTED_CURRENCY,
                  ProblemKind.UNSUPPORTED_SCHEME: ErrorCode.UNSUPPORTED_SCHEME,
                  ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT:
                      ErrorCode.UNSUPPORTED_LOCAL_INSTRUMENT,
                  ProblemKind.MISMATCH: ErrorCode.CONSENT_MISMATCH}


def _pis_error(error: PisError):
    if isinstance(error, InvalidPaymentRequest):
        return obapi.render(OBError(400, [ErrorItem(_PROBLEM_CODES[p.kind], p.message, p.path)
                                          for p in error.problems]))
    if isinstance(error, PaymentOrderNotFound):
        return obapi.render(obapi.bad_request(ErrorCode.NOT_FOUND, error.message,
                                              error.path))
    if isinstance(error, ConsentNotUsable):
        return obapi.render(obapi.forbidden(ErrorCode.INVALID_CONSENT_STATUS, error.message,
                                            error.path))
    if isinstance(error, WrongConsent):
        return obapi.render(obapi.forbidden(ErrorCode.CONSENT_MISMATCH, error.message,
                                            error.path))
    if isinstance(error, DebtorNotPermitted):
        return obapi.render(obapi.forbidden(ErrorCode.ACCOUNT_NOT_PERMITTED, error.message,
                                            error.path))
    return obapi.render(obapi.unexpected())


def _consent_error(error: ConsentError):
    if isinstance(error, ConsentNotFound):
        return obapi.render(obapi.bad_request(ErrorCode.NOT_FOUND,
                                              "there is no consent with this ConsentId",
                                              "ConsentId"))
    return obapi.render(obapi.bad_request(ErrorCode.INVALID_CONSENT_STATUS, error.message))
