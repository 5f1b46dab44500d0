"""Payment Initiation API v3.1.11 under /open-banking/v3.1/pisp: the consents of domestic
payments, domestic scheduled payments, domestic standing orders, international payments,
international scheduled payments and international standing orders (with the funds
confirmation of a domestic, international or international scheduled payment consent), and
the payment orders they allow (`KINDS`); and file payments: the consent made of a file's
metadata, the file uploaded to it and read back (`/file-payment-consents/{ConsentId}/file`),
the file payment, its payment-details and its report (aspsp.pis.files says what a file is).

Every POST carries a detached JWS of its body in x-jws-signature, verified against the TPP's
registered keys (aspsp.ob_signing), and an x-idempotency-key claimed as the first write of the
creating transaction (aspsp.idempotency: a repeat makes nothing and answers with the
resource as it is now);
every response with a body is signed with the bank's key.

Who may call what (consent.gate): the consent resources and the reading of payments take a
client-credentials token with scope `payments` of a client registered as a PISP
(`requires_client`); the funds confirmation and the submission of a payment take the
customer's authorization-code token of that very consent (`requires_consent`). Each view is
then one service call, the answer built as a plain dict and encoded by orjson
(aspsp.obapi.json_response); the schemas document it. Another client's consent or payment is
answered like an unknown id (400 UK.OBIE.Resource.NotFound), as the AIS consents are.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request

from aspsp import idempotency, ob_signing, obapi, platform
from aspsp.obapi import ErrorCode, ErrorItem, OBError
from consent import api as consent_api
from consent import gate
from consent.domain import ConsentStatus
from consent.errors import ConsentError

from . import files, schemas, services
from .domain import ProblemKind
from .errors import (ConsentNotUsable, ConsentOfAnotherType, DebtorNotPermitted,
                     InvalidPaymentRequest, PaymentOfAnotherClient, PaymentOrderNotFound,
                     PisError, WrongConsent)

SCOPE = "payments"
PREFIX = "/open-banking/v3.1/pisp"
V31_CONSENT_STATUSES = {ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AWAITING_UPLOAD,
                        ConsentStatus.AUTHORISED, ConsentStatus.CONSUMED,
                        ConsentStatus.REJECTED}
IDEMPOTENCY_HEADER = {"in": "header", "name": "x-idempotency-key", "required": True,
                      "description": "Every POST: at most 40 characters, no leading or "
                      "trailing white space", "schema": {"type": "string", "maxLength": 40,
                                                         "pattern": "^(?!\\s)(.*)(\\S)$"}}
SIGNATURE_HEADER = {"in": "header", "name": "x-jws-signature", "required": True,
                    "description": "Detached JWS of the request body (OBIE message signing)",
                    "schema": {"type": "string"}}


def init_app(app: Flask) -> None:
    obapi.register_blueprint(app, _blueprint())


@dataclass(frozen=True)
class Kind:
    """One payment order type's resources: paths, OBIE names and schemas."""
    order_type: str
    consents: str                 # path of its consents
    payments: str                 # path of its payments
    id_name: str                  # the payment resource's id member and path variable
    operation: str                # OBIE operationId stem, e.g. DomesticPayment
    consent_request: type
    consent_response: type
    payment_request: type
    payment_response: type
    funds_confirmation: bool = False
    path_id: str | None = None    # the path variable when it is not `id_name`
    exchange_rate: bool = False   # the consent shows the bank's ExchangeRateInformation
    risk: bool = True             # the consent has a Risk (a file payment's has none)

    @property
    def plural(self) -> str:
        return self.operation + "s"

    @property
    def variable(self) -> str:
        return self.path_id or self.id_name


KINDS = (
    Kind(services.DOMESTIC_PAYMENT, "domestic-payment-consents", "domestic-payments",
         "DomesticPaymentId", "DomesticPayment", schemas.OBWriteDomesticConsent4Schema,
         schemas.OBWriteDomesticConsentResponse5Schema, schemas.OBWriteDomestic2Schema,
         schemas.OBWriteDomesticResponse5Schema, funds_confirmation=True),
    Kind(services.DOMESTIC_SCHEDULED_PAYMENT, "domestic-scheduled-payment-consents",
         "domestic-scheduled-payments", "DomesticScheduledPaymentId",
         "DomesticScheduledPayment", schemas.OBWriteDomesticScheduledConsent4Schema,
         schemas.OBWriteDomesticScheduledConsentResponse5Schema,
         schemas.OBWriteDomesticScheduled2Schema,
         schemas.OBWriteDomesticScheduledResponse5Schema),
    Kind(services.DOMESTIC_STANDING_ORDER, "domestic-standing-order-consents",
         "domestic-standing-orders", "DomesticStandingOrderId", "DomesticStandingOrder",
         schemas.OBWriteDomesticStandingOrderConsent5Schema,
         schemas.OBWriteDomesticStandingOrderConsentResponse6Schema,
         schemas.OBWriteDomesticStandingOrder3Schema,
         schemas.OBWriteDomesticStandingOrderResponse6Schema),
    Kind(services.INTERNATIONAL_PAYMENT, "international-payment-consents",
         "international-payments", "InternationalPaymentId", "InternationalPayment",
         schemas.OBWriteInternationalConsent5Schema,
         schemas.OBWriteInternationalConsentResponse6Schema,
         schemas.OBWriteInternational3Schema, schemas.OBWriteInternationalResponse5Schema,
         funds_confirmation=True, exchange_rate=True),
    Kind(services.INTERNATIONAL_SCHEDULED_PAYMENT, "international-scheduled-payment-consents",
         "international-scheduled-payments", "InternationalScheduledPaymentId",
         "InternationalScheduledPayment",
         schemas.OBWriteInternationalScheduledConsent5Schema,
         schemas.OBWriteInternationalScheduledConsentResponse6Schema,
         schemas.OBWriteInternationalScheduled3Schema,
         schemas.OBWriteInternationalScheduledResponse6Schema, funds_confirmation=True,
         exchange_rate=True),
    # v3.1.11 names the resource's id InternationalStandingOrderId and its path variable
    # InternationalStandingOrderPaymentId.
    Kind(services.INTERNATIONAL_STANDING_ORDER, "international-standing-order-consents",
         "international-standing-orders", "InternationalStandingOrderId",
         "InternationalStandingOrder",
         schemas.OBWriteInternationalStandingOrderConsent6Schema,
         schemas.OBWriteInternationalStandingOrderConsentResponse7Schema,
         schemas.OBWriteInternationalStandingOrder4Schema,
         schemas.OBWriteInternationalStandingOrderResponse7Schema,
         path_id="InternationalStandingOrderPaymentId"),
    Kind(services.FILE_PAYMENT, "file-payment-consents", "file-payments", "FilePaymentId",
         "FilePayment", schemas.OBWriteFileConsent3Schema,
         schemas.OBWriteFileConsentResponse4Schema, schemas.OBWriteFile2Schema,
         schemas.OBWriteFileResponse3Schema, risk=False),
)
BY_TYPE = {kind.order_type: kind for kind in KINDS}


def _blueprint() -> obapi.Blueprint:
    """A new blueprint per app (create_app runs once per test)."""
    blp = obapi.Blueprint("Payment Initiation", __name__, url_prefix=PREFIX,
                          description="Payment Initiation API (OBIE Read/Write API v3.1.11): "
                                      "payment consents and the payments they allow")
    blp.register_error_handler(PisError, pis_error)
    blp.register_error_handler(ConsentError, consent_error)
    ob_signing.sign_responses(blp)       # every response with a body, errors too
    for kind in KINDS:
        _consent_routes(blp, kind)
        _payment_routes(blp, kind)
    _file_routes(blp, BY_TYPE[services.FILE_PAYMENT])
    return blp


TPP = [{"TPPOAuth2Security": [SCOPE]}]
PSU = [{"PSUOAuth2Security": [SCOPE]}]
HEADERS = list(obapi.FAPI_HEADERS)
POSTS = HEADERS + [IDEMPOTENCY_HEADER, SIGNATURE_HEADER]


def _consent_routes(blp: obapi.Blueprint, kind: Kind) -> None:
    create_id = f"Create{kind.operation}Consents"

    @blp.route(f"/{kind.consents}", methods=["POST"], endpoint=create_id)
    @gate.requires_client(SCOPE)
    @ob_signing.signed_request
    @idempotency.idempotent(f"{kind.order_type}-consent", current=_consent_now(kind))
    @blp.doc(operationId=create_id, security=TPP, parameters=POSTS,
             summary=f"Create a {kind.order_type} consent (AwaitingAuthorisation)")
    @blp.arguments(kind.consent_request, error_status_code=400)
    @blp.response(201, kind.consent_response)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_consent(parsed):
        p = platform.current()
        with p.uow() as uow:
            key = idempotency.claim(uow)        # the first write: a repeat replays
            view = services.create_consent(uow, gate.current_client().client, kind.order_type,
                                           request.get_json(), parsed, p.clock.now())
            response = key.respond(201, obapi.encode(_consent_body(view)))
            uow.commit()
        return response

    get_id = f"Get{kind.operation}ConsentsConsentId"

    @blp.route(f"/{kind.consents}/<ConsentId>", methods=["GET"], endpoint=get_id)
    @gate.requires_client(SCOPE)
    @blp.doc(operationId=get_id, security=TPP, parameters=HEADERS,
             summary=f"Read a {kind.order_type} consent")
    @blp.response(200, kind.consent_response)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_consent(ConsentId: str):  # noqa: N803 (the OBIE path name)
        p = platform.current()
        with p.uow() as uow:
            view = services.get_consent(uow, gate.current_client().client, ConsentId,
                                        kind.order_type, p.clock.now())
        return obapi.json_response(_consent_body(view))

    if not kind.funds_confirmation:
        return
    funds_id = f"Get{kind.operation}ConsentsConsentIdFundsConfirmation"

    @blp.route(f"/{kind.consents}/<ConsentId>/funds-confirmation", methods=["GET"],
               endpoint=funds_id)
    @gate.requires_consent(SCOPE)
    @blp.doc(operationId=funds_id, security=PSU, parameters=HEADERS,
             summary="Whether the customer's account can pay the consent's amount now")
    @blp.response(200, schemas.OBWriteFundsConfirmationResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_funds_confirmation(ConsentId: str):  # noqa: N803
        p = platform.current()
        now = p.clock.now()
        with p.uow() as uow:
            available = services.funds_confirmation(uow, gate.current_consent(), ConsentId,
                                                    now, order_type=kind.order_type)
        return obapi.json_response({
            "Data": {"FundsAvailableResult": {"FundsAvailableDateTime": now,
                                              "FundsAvailable": available}},
            "Links": {"Self": _self()}, "Meta": {}})


def _payment_routes(blp: obapi.Blueprint, kind: Kind) -> None:
    create_id = f"Create{kind.plural}"

    @blp.route(f"/{kind.payments}", methods=["POST"], endpoint=create_id)
    # A Consumed consent passes the gate so that a retry with the first request's
    # x-idempotency-key replays its response; the submission itself takes an Authorised
    # consent only (checked under the consent's row lock: 400 InvalidConsentStatus).
    @gate.requires_consent(SCOPE, statuses=(ConsentStatus.AUTHORISED, ConsentStatus.CONSUMED))
    @ob_signing.signed_request
    @idempotency.idempotent(kind.order_type, current=_order_now(kind))
    @blp.doc(operationId=create_id, security=PSU, parameters=POSTS,
             summary=f"Submit the {kind.order_type} an authorised consent allows (once)")
    @blp.arguments(kind.payment_request, error_status_code=400)
    @blp.response(201, kind.payment_response)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_payment(_parsed):
        p = platform.current()
        context = gate.current_consent()
        with p.uow() as uow:
            key = idempotency.claim(uow)        # before the consent is locked and consumed
            record = services.submit_order(uow, context, ClientOf(context),
                                           request.get_json(), kind.order_type, p.clock.now())
            response = key.respond(201, obapi.encode(_order_body(record)))
            uow.commit()
        return response

    get_id = f"Get{kind.plural}{kind.variable}"
    variable = f"<{kind.variable}>"

    @blp.route(f"/{kind.payments}/{variable}", methods=["GET"], endpoint=get_id)
    @gate.requires_client(SCOPE)
    @blp.doc(operationId=get_id, security=TPP, parameters=HEADERS,
             summary=f"Read a {kind.order_type} and its status")
    @blp.response(200, kind.payment_response)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_payment(**ids):
        p = platform.current()
        with p.uow() as uow:
            record = services.get_order(uow, gate.current_client().client,
                                        ids[kind.variable], kind.order_type)
        return obapi.json_response(_order_body(record))

    details_id = f"{get_id}PaymentDetails"

    @blp.route(f"/{kind.payments}/{variable}/payment-details", methods=["GET"],
               endpoint=details_id)
    @gate.requires_client(SCOPE)
    @blp.doc(operationId=details_id, security=TPP, parameters=HEADERS,
             summary="Every status it has had, oldest first (and each payment of a schedule)")
    @blp.response(200, schemas.OBWritePaymentDetailsResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_payment_details(**ids):
        p = platform.current()
        with p.uow() as uow:
            record = services.get_order(uow, gate.current_client().client,
                                        ids[kind.variable], kind.order_type)
        return obapi.json_response(_details_body(record))


def _file_routes(blp: obapi.Blueprint, kind: Kind) -> None:
    """The file of a file payment consent, uploaded and read back, and a file payment's
    report on each payment of its file."""
    upload_id = "CreateFilePaymentConsentsConsentIdFile"

    @blp.route(f"/{kind.consents}/<ConsentId>/file", methods=["POST"], endpoint=upload_id)
    @gate.requires_client(SCOPE)
    @ob_signing.signed_request
    @idempotency.idempotent("file-payment-consent-file")
    @blp.doc(operationId=upload_id, security=TPP, parameters=POSTS,
             summary="Upload the consent's payment file (AwaitingUpload -> "
                     "AwaitingAuthorisation)",
             requestBody={"required": True, "content": {
                 "application/json": {"schema": {
                     "type": "object", "description": "A UK.OBIE.PaymentInitiation.3.1 file: "
                     '{"Data": {"DomesticPayments": [OBDomestic2, ...]}}, whose SHA-256 is '
                     "the consent's FileHash"}},
                 "text/xml": {"schema": {
                     "type": "string", "description": "A UK.OBIE.pain.001.001.08 file (ISO "
                     "20022 CstmrCdtTrfInitn), whose SHA-256 is the consent's FileHash"}}}})
    @blp.response(200, description="The file is the consent's: no body")
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    @obapi.accepts(*files.MEDIA_TYPES)
    def upload_file(ConsentId: str):  # noqa: N803
        p = platform.current()
        now, client = p.clock.now(), gate.current_client().client
        try:
            with p.uow() as uow:
                key = idempotency.claim(uow)
                services.upload_file(uow, client, ConsentId, request.get_data(cache=True),
                                     request.content_type or "", now)
                response = key.respond(200, b"")
                uow.commit()
            return response
        except files.FileRefused as refused:
            if refused.rejects:          # the profile: the ASPSP "must reject" the consent
                with p.uow() as uow:
                    services.reject_file_consent(uow, client, ConsentId, now,
                                                 f"{files.REJECTED}: {refused}"[:500])
                    uow.commit()
            raise InvalidPaymentRequest(refused.problems) from None

    read_id = "GetFilePaymentConsentsConsentIdFile"

    @blp.route(f"/{kind.consents}/<ConsentId>/file", methods=["GET"], endpoint=read_id)
    @gate.requires_client(SCOPE)
    @blp.doc(operationId=read_id, security=TPP, parameters=HEADERS,
             summary="The file uploaded for the consent, byte for byte",
             responses={"200": {"description": "The file, with the media type it was sent "
                                "with", "content": {obapi.JSON: {"schema": {"type": "object"}}}}})
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    @obapi.produces(*files.MEDIA_TYPES)
    def read_file(ConsentId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            row = services.get_file(uow, gate.current_client().client, ConsentId,
                                    p.clock.now())
            content, content_type = bytes(row.content), row.content_type
        return current_app.response_class(content, status=200, content_type=content_type)

    report_id = "GetFilePaymentsFilePaymentIdReportFile"

    @blp.route(f"/{kind.payments}/<FilePaymentId>/report-file", methods=["GET"],
               endpoint=report_id)
    @gate.requires_client(SCOPE)
    @blp.doc(operationId=report_id, security=TPP, parameters=HEADERS,
             summary="Each payment of the file with its own status (JSON; README, "
                     "\"File payments\")",
             responses={"200": {"description": "The report", "content": {obapi.JSON: {
                 "schema": {"type": "object"}}}}})
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def report_file(FilePaymentId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            record, lines = services.file_report(uow, gate.current_client().client,
                                                 FilePaymentId)
        return obapi.json_response(_report_body(record, lines))


def _report_body(record: services.OrderRecord, lines: list[services.FileReportLine]) -> dict:
    payments = []
    for line in lines:
        item = {name: line.instruction[name] for name in (
            "InstructionIdentification", "EndToEndIdentification", "InstructedAmount",
            "CreditorAccount") if name in line.instruction}
        item.update({"Status": line.status, "StatusUpdateDateTime": line.status_updated_at})
        if line.transaction_id is not None:
            item["PaymentTransactionId"] = line.transaction_id
        if line.reason:
            item["StatusReasonDescription"] = line.reason[:256]
        payments.append(item)
    return {"Data": {"FilePaymentId": record.payment_order_id, "ConsentId": record.consent_id,
                     "Status": record.status, "StatusUpdateDateTime": record.status_updated_at,
                     "NumberOfTransactions": str(len(payments)), "Payments": payments},
            "Links": {"Self": _self()}, "Meta": {}}


def _consent_now(kind: Kind):
    """A replayed consent POST answers with the consent as it is now (Authorised since...)."""
    def read(stored: dict) -> bytes:
        p = platform.current()
        with p.uow() as uow:
            view = services.get_consent(uow, gate.current_client().client,
                                        stored["Data"]["ConsentId"], kind.order_type,
                                        p.clock.now())
        return obapi.encode(_consent_body(view))
    return read


def _order_now(kind: Kind):
    """A replayed payment POST answers with the order's current status (settled since...)."""
    def read(stored: dict) -> bytes:
        p = platform.current()
        with p.uow() as uow:
            record = services.get_order(uow, ClientOf(gate.current_consent()),
                                        stored["Data"][kind.id_name], kind.order_type)
        return obapi.encode(_order_body(record))
    return read


class ClientOf:
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
    kind = BY_TYPE[record.consent_type]
    for name in ("Permission", "ReadRefundAccount", "ExchangeRateInformation", "Initiation",
                 "Authorisation", "SCASupportData"):
        if name in record.data:
            data[name] = record.data[name]
    if not kind.exchange_rate:     # a standing order's quote is for the approval page only
        data.pop("ExchangeRateInformation", None)
    if view.debtor is not None:
        data["Debtor"] = view.debtor
    if "Charges" in record.data:        # the bank's tariff, worked out with the consent
        data["Charges"] = record.data["Charges"]
    body = {"Data": data, "Risk": record.data.get("Risk", {}),
            "Links": {"Self": f"{_issuer()}{PREFIX}/{kind.consents}/{record.consent_id}"},
            "Meta": {}}
    if not kind.risk:
        del body["Risk"]
    return body


def _order_body(record: services.OrderRecord) -> dict:
    kind = BY_TYPE[record.order_type]
    data = {kind.id_name: record.payment_order_id, "ConsentId": record.consent_id,
            "CreationDateTime": record.created_at, "Status": record.status,
            "StatusUpdateDateTime": record.status_updated_at,
            "Initiation": record.initiation}
    if record.exchange_rate is not None:        # international: the rate applied or quoted
        data["ExchangeRateInformation"] = record.exchange_rate
    if record.debtor is not None:
        data["Debtor"] = record.debtor
    if record.charges:                  # the consent's (aspsp.pis.charges)
        data["Charges"] = record.charges
    if record.refund is not None:       # ReadRefundAccount "Yes": the account paid from
        data["Refund"] = record.refund
    return {"Data": data,
            "Links": {"Self": f"{_issuer()}{PREFIX}/{kind.payments}/"
                              f"{record.payment_order_id}"},
            "Meta": {}}


# payment-details names statuses in ISO 20022 terms: a schedule set up is "Accepted".
_DETAIL_STATUSES = {services.INITIATION_COMPLETED: "Accepted",
                    files.INITIATION_PENDING: "Pending", files.INITIATION_FAILED: "Rejected"}
_STATUS_REASONS = {"Rejected": "ProprietaryRejection",
                   files.INITIATION_FAILED: "ProprietaryRejection",
                   "AcceptedSettlementInProcess": "PendingSettlement"}


def _details_body(record: services.OrderRecord) -> dict:
    steps = []
    for step in record.history:
        item = {"PaymentTransactionId": step.transaction_id or record.transaction_id,
                "Status": _DETAIL_STATUSES.get(step.status, step.status),
                "StatusUpdateDateTime": step.at}
        if step.status in _DETAIL_STATUSES:         # the resource's own name for it
            item["StatusDetail"] = {"Status": step.status}
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
                  ProblemKind.UNSUPPORTED_SECONDARY_IDENTIFICATION:
                      ErrorCode.UNSUPPORTED_ACCOUNT_SECONDARY_IDENTIFIER,
                  ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT:
                      ErrorCode.UNSUPPORTED_LOCAL_INSTRUMENT,
                  ProblemKind.MISMATCH: ErrorCode.CONSENT_MISMATCH,
                  ProblemKind.UNEXPECTED: ErrorCode.FIELD_UNEXPECTED,
                  ProblemKind.EXPECTED: ErrorCode.FIELD_EXPECTED,
                  ProblemKind.EXPIRED: ErrorCode.AFTER_CUT_OFF,
                  ProblemKind.DUPLICATE: ErrorCode.DUPLICATE_REFERENCE,
                  ProblemKind.FORMAT: ErrorCode.INVALID_FORMAT}


def pis_error(error: PisError):
    if isinstance(error, InvalidPaymentRequest):
        return obapi.render(OBError(400, [ErrorItem(_PROBLEM_CODES[p.kind], p.message, p.path)
                                          for p in error.problems]))
    if isinstance(error, PaymentOfAnotherClient):
        return obapi.render(obapi.forbidden(ErrorCode.RESOURCE_OF_ANOTHER_CLIENT, error.message))
    if isinstance(error, PaymentOrderNotFound):
        return obapi.render(obapi.bad_request(ErrorCode.NOT_FOUND, error.message,
                                              error.path))
    if isinstance(error, ConsentNotUsable):
        return obapi.render(obapi.bad_request(ErrorCode.INVALID_CONSENT_STATUS, error.message,
                                              error.path))
    if isinstance(error, ConsentOfAnotherType):
        return obapi.render(obapi.forbidden(ErrorCode.CONSENT_MISMATCH, error.message,
                                            error.path))
    if isinstance(error, WrongConsent):
        return obapi.render(obapi.bad_request(ErrorCode.CONSENT_MISMATCH, error.message,
                                              error.path))
    if isinstance(error, DebtorNotPermitted):
        return obapi.render(obapi.forbidden(ErrorCode.ACCOUNT_NOT_PERMITTED, error.message,
                                            error.path))
    return obapi.render(obapi.unexpected())


def consent_error(error: ConsentError):
    return consent_api.lookup_error(error) or \
        obapi.render(obapi.bad_request(ErrorCode.INVALID_CONSENT_STATUS, error.message))
