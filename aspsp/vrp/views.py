"""Variable Recurring Payments API v3.1.11 under /open-banking/v3.1/pisp: domestic VRP
consents (POST, GET, DELETE, POST .../funds-confirmation) and the domestic VRPs they allow
(POST, GET, GET .../payment-details), as vrp-openapi.json names them.

Signed and idempotent as the domestic payments are (aspsp.pis.views): every POST carries a
detached JWS of its body in x-jws-signature, verified against the TPP's registered keys, the
consent and VRP POSTs an x-idempotency-key claimed as the first write of their transaction
(a repeat makes nothing and answers with the resource as it is now); every response with a
body is signed with the bank's key. The funds confirmation takes no idempotency key (the VRP
resource docs: "Idempotency Key: No").

Who may call what (consent.gate): the consent resources and the reading of VRPs take a
client-credentials token with scope `payments` of a PISP (`requires_client`); the funds
confirmation and the submission of a VRP take the customer's authorization-code token of
that very consent (`requires_consent`: Authorised, not expired, not revoked). Another
client's consent or VRP is answered like an unknown id (400 UK.OBIE.Resource.NotFound); a
VRP over a control parameter is 400 UK.OBIE.Rules.FailsControlParameters with the control
parameter as its Path.
"""
from __future__ import annotations

from flask import Flask, current_app, request

from aspsp import idempotency, ob_signing, obapi, platform
from aspsp.obapi import ErrorCode
from aspsp.pis import views as pis_views
from aspsp.pis.errors import PisError
from consent import gate
from consent.domain import ConsentStatus
from consent.errors import ConsentError

from . import schemas, services
from .errors import LimitExceeded

SCOPE = "payments"
PREFIX = pis_views.PREFIX
V31_STATUSES = {ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AUTHORISED,
                ConsentStatus.REJECTED}
TPP = [{"TPPOAuth2Security": [SCOPE]}]
PSU = [{"PSUOAuth2Security": [SCOPE]}]
HEADERS = list(obapi.FAPI_HEADERS)
POSTS = HEADERS + [pis_views.IDEMPOTENCY_HEADER, pis_views.SIGNATURE_HEADER]
SIGNED_POST = HEADERS + [pis_views.SIGNATURE_HEADER]
CONSENTS, VRPS = "domestic-vrp-consents", "domestic-vrps"


def init_app(app: Flask) -> None:
    obapi.register_blueprint(app, _blueprint())


def _blueprint() -> obapi.Blueprint:
    """A new blueprint per app (create_app runs once per test)."""
    blp = obapi.Blueprint("Variable Recurring Payments", __name__, url_prefix=PREFIX,
                          description="Variable Recurring Payments API (OBIE Read/Write API "
                                      "v3.1.11): domestic VRP consents and the payments they "
                                      "allow within their control parameters")
    blp.register_error_handler(PisError, _vrp_error)
    blp.register_error_handler(ConsentError, pis_views.consent_error)
    ob_signing.sign_responses(blp)
    _consent_routes(blp)
    _vrp_routes(blp)
    return blp


def _consent_routes(blp: obapi.Blueprint) -> None:
    @blp.route(f"/{CONSENTS}", methods=["POST"], endpoint="domesticVrpConsentsPost")
    @gate.requires_client(SCOPE)
    @ob_signing.signed_request
    @idempotency.idempotent("domestic-vrp-consent", current=_consent_now)
    @blp.doc(operationId="domesticVrpConsentsPost", security=TPP, parameters=POSTS,
             summary="Create a domestic VRP consent (AwaitingAuthorisation)")
    @blp.arguments(schemas.OBDomesticVRPConsentRequestSchema, error_status_code=400)
    @blp.response(201, schemas.OBDomesticVRPConsentResponseSchema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_consent(parsed):
        p = platform.current()
        with p.uow() as uow:
            key = idempotency.claim(uow)
            view = services.create_consent(uow, gate.current_client().client,
                                           request.get_json(), parsed, p.clock.now())
            response = key.respond(201, obapi.encode(_consent_body(view)))
            uow.commit()
        return response

    @blp.route(f"/{CONSENTS}/<ConsentId>", methods=["GET"], endpoint="domesticVrpConsentsGet")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="domesticVrpConsentsGet", security=TPP, parameters=HEADERS,
             summary="Read a domestic VRP consent")
    @blp.response(200, schemas.OBDomesticVRPConsentResponseSchema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def get_consent(ConsentId: str):  # noqa: N803 (the OBIE path name)
        p = platform.current()
        with p.uow() as uow:
            view = services.get_consent(uow, gate.current_client().client, ConsentId,
                                        p.clock.now())
        return obapi.json_response(_consent_body(view))

    @blp.route(f"/{CONSENTS}/<ConsentId>", methods=["DELETE"],
               endpoint="domesticVrpConsentsDelete")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="domesticVrpConsentsDelete", security=TPP, parameters=HEADERS,
             summary="Delete a domestic VRP consent: no VRP can be made under it any more, "
                     "its tokens are revoked")
    @blp.response(204)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def delete_consent(ConsentId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            services.delete_consent(uow, gate.current_client().client, ConsentId,
                                    p.clock.now())
            uow.commit()
        return None

    @blp.route(f"/{CONSENTS}/<ConsentId>/funds-confirmation", methods=["POST"],
               endpoint="domesticVrpConsentsFundsConfirmation")
    @gate.requires_consent(SCOPE)
    @ob_signing.signed_request
    @blp.doc(operationId="domesticVrpConsentsFundsConfirmation", security=PSU,
             parameters=SIGNED_POST,
             summary="Whether the consent's account can pay an amount now (yes or no)")
    @blp.arguments(schemas.OBVRPFundsConfirmationRequestSchema, error_status_code=400)
    @blp.response(201, schemas.OBVRPFundsConfirmationResponseSchema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def funds_confirmation(_parsed, ConsentId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            answer = services.confirm_funds(uow, gate.current_consent(), ConsentId,
                                            request.get_json(), p.clock.now())
        data = {"FundsConfirmationId": answer.funds_confirmation_id,
                "ConsentId": answer.consent_id, "CreationDateTime": answer.created_at,
                "FundsAvailableResult": {
                    "FundsAvailableDateTime": answer.created_at,
                    "FundsAvailable": "Available" if answer.available else "NotAvailable"},
                "InstructedAmount": answer.amount}
        if answer.reference is not None:
            data["Reference"] = answer.reference
        return obapi.json_response({"Data": data}, 201)


def _vrp_routes(blp: obapi.Blueprint) -> None:
    @blp.route(f"/{VRPS}", methods=["POST"], endpoint="domesticVrpPost")
    @gate.requires_consent(SCOPE)
    @ob_signing.signed_request
    @idempotency.idempotent("domestic-vrp", current=_vrp_now)
    @blp.doc(operationId="domesticVrpPost", security=PSU, parameters=POSTS,
             summary="Make a payment under an authorised domestic VRP consent, within its "
                     "control parameters")
    @blp.arguments(schemas.OBDomesticVRPRequestSchema, error_status_code=400)
    @blp.response(201, schemas.OBDomesticVRPResponseSchema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_vrp(_parsed):
        p = platform.current()
        context = gate.current_consent()
        with p.uow() as uow:
            key = idempotency.claim(uow)        # before the consent is locked
            record = services.submit_vrp(uow, context, pis_views.ClientOf(context),
                                         request.get_json(), p.clock.now())
            response = key.respond(201, obapi.encode(_vrp_body(record)))
            uow.commit()
        return response

    @blp.route(f"/{VRPS}/<DomesticVRPId>", methods=["GET"], endpoint="domesticVrpGet")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="domesticVrpGet", security=TPP, parameters=HEADERS,
             summary="Read a domestic VRP and its status")
    @blp.response(200, schemas.OBDomesticVRPResponseSchema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def get_vrp(DomesticVRPId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            record = services.get_vrp(uow, gate.current_client().client, DomesticVRPId)
        return obapi.json_response(_vrp_body(record))

    @blp.route(f"/{VRPS}/<DomesticVRPId>/payment-details", methods=["GET"],
               endpoint="domesticVrpPaymentDetailsGet")
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="domesticVrpPaymentDetailsGet", security=TPP, parameters=HEADERS,
             summary="Every status the domestic VRP has had, oldest first")
    @blp.response(200, schemas.OBDomesticVRPDetailsSchema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def get_vrp_details(DomesticVRPId: str):  # noqa: N803
        p = platform.current()
        with p.uow() as uow:
            record = services.get_vrp(uow, gate.current_client().client, DomesticVRPId)
        return obapi.json_response(_details_body(record))


def _consent_now(stored: dict) -> bytes:
    """A replayed consent POST answers with the consent as it is now."""
    p = platform.current()
    with p.uow() as uow:
        view = services.get_consent(uow, gate.current_client().client,
                                    stored["Data"]["ConsentId"], p.clock.now())
    return obapi.encode(_consent_body(view))


def _vrp_now(stored: dict) -> bytes:
    """A replayed VRP POST answers with the VRP's current status."""
    p = platform.current()
    with p.uow() as uow:
        record = services.get_vrp(uow, pis_views.ClientOf(gate.current_consent()),
                                  stored["Data"]["DomesticVRPId"])
    return obapi.encode(_vrp_body(record))


# --- bodies ----------------------------------------------------------------------------------
def _issuer() -> str:
    return current_app.config["ISSUER"].rstrip("/")


def v31_status(status: ConsentStatus) -> str:
    """v3.1.11 names three VRP consent statuses: a revoked or expired consent is Rejected."""
    status = ConsentStatus(status)
    return status.value if status in V31_STATUSES else ConsentStatus.REJECTED.value


def _consent_body(view: services.ConsentView) -> dict:
    record = view.record
    data = {"ConsentId": record.consent_id, "CreationDateTime": record.created_at,
            "Status": v31_status(record.status),
            "StatusUpdateDateTime": record.status_updated_at}
    for name in ("ReadRefundAccount", "ControlParameters", "Initiation"):
        if name in record.data:
            data[name] = record.data[name]
    if view.debtor is not None:
        data["DebtorAccount"] = view.debtor
    return {"Data": data, "Risk": record.data.get("Risk", {}),
            "Links": {"Self": f"{_issuer()}{PREFIX}/{CONSENTS}/{record.consent_id}"},
            "Meta": {}}


def _vrp_body(record: services.VrpRecord) -> dict:
    sent = record.request["Data"]
    data = {"DomesticVRPId": record.domestic_vrp_id, "ConsentId": record.consent_id,
            "CreationDateTime": record.created_at, "Status": record.status,
            "StatusUpdateDateTime": record.status_updated_at,
            "Initiation": sent["Initiation"], "Instruction": sent["Instruction"],
            "DebtorAccount": record.debtor}
    if record.status == services.REJECTED and record.rejection_reason:
        data["StatusReason"] = "UK.OBIE.OtherReason"
        data["StatusReasonDescription"] = record.rejection_reason[:256]
    return {"Data": data, "Risk": record.request.get("Risk", {}),
            "Links": {"Self": f"{_issuer()}{PREFIX}/{VRPS}/{record.domestic_vrp_id}"},
            "Meta": {}}


_STATUS_REASONS = {"Rejected": "ProprietaryRejection",
                   "AcceptedSettlementInProcess": "PendingSettlement"}


def _details_body(record: services.VrpRecord) -> dict:
    steps = []
    for step in record.history:
        item = {"PaymentTransactionId": record.transaction_id, "Status": step.status,
                "StatusUpdateDateTime": step.at}
        if step.status in _STATUS_REASONS:
            item["StatusDetail"] = {"Status": step.status,
                                    "StatusReason": _STATUS_REASONS[step.status]}
            if step.reason:
                item["StatusDetail"]["StatusReasonDescription"] = step.reason[:128]
        steps.append(item)
    return {"Data": {"PaymentStatus": steps}}


# --- errors ----------------------------------------------------------------------------------
def _vrp_error(error: PisError):
    if isinstance(error, LimitExceeded):
        return obapi.render(obapi.bad_request(ErrorCode.FAILS_CONTROL_PARAMETERS,
                                              error.message, error.path))
    return pis_views.pis_error(error)
