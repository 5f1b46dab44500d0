"""Account-access-consent resources, Open Banking Read/Write API v3.1 (v3.1.11):
POST /open-banking/v3.1/aisp/account-access-consents, GET and DELETE .../{ConsentId}.

Client-credentials, sender-constrained tokens with scope `accounts`, from a client
registered as an AISP. Choices where the standard leaves room:
- another client's consent is answered exactly like an unknown id (400
  UK.OBIE.Resource.NotFound), so a consent is never visible beyond its client, not even its
  existence (the profile's 403 for "belongs to another TPP" would tell that it exists);
- after DELETE the resource is gone for the TPP: GET and DELETE answer 400
  UK.OBIE.Resource.NotFound (profile §Changes to an Intent's Authorized State). The consent
  itself stays, Revoked, in the customer's history;
- v3.1 has no Expired status for this resource: an expired consent shows the status it had
  (Authorised, or Rejected when it was never authorised) with its ExpirationDateTime in the
  past, which the profile says the bank must not modify.
"""
from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from flask import Flask, current_app, request, url_for

from aspsp import ob_signing, obapi, platform
from aspsp.obapi import ErrorCode, ErrorItem, OBError, OBSchema

from . import gate, services
from .domain import ConsentStatus
from .errors import (ConsentError, ConsentNotFound, ConsentOfAnotherClient,
                     InvalidConsentRequest)
from .permissions import CODES

SCOPE = "accounts"
V31_STATUSES = {ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AUTHORISED,
                ConsentStatus.REJECTED, ConsentStatus.REVOKED}
_DATETIME = {"default_timezone": timezone.utc}
_PERMISSIONS_DOC = {"description": "Open Banking account access data types (OBIE permission "
                    "codes)", "enum": list(CODES)}


# --- schemas (OpenAPI component names follow the OBIE ones) ------------------------------------
class OBRisk2Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE


class OBReadData1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    Permissions = ma.fields.List(ma.fields.String(metadata=_PERMISSIONS_DOC), required=True)
    ExpirationDateTime = ma.fields.AwareDateTime(**_DATETIME)
    TransactionFromDateTime = ma.fields.AwareDateTime(**_DATETIME)
    TransactionToDateTime = ma.fields.AwareDateTime(**_DATETIME)


class OBReadConsent1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    Data = ma.fields.Nested(OBReadData1Schema, required=True)
    Risk = ma.fields.Nested(OBRisk2Schema, required=True)


class OBReadDataConsentResponse1Schema(OBSchema):
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = ma.fields.String(required=True, metadata={"enum": sorted(V31_STATUSES)})
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Permissions = ma.fields.List(ma.fields.String(metadata=_PERMISSIONS_DOC), required=True)
    ExpirationDateTime = ma.fields.AwareDateTime()
    TransactionFromDateTime = ma.fields.AwareDateTime()
    TransactionToDateTime = ma.fields.AwareDateTime()


class OBReadConsentResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBReadDataConsentResponse1Schema, required=True)
    Risk = ma.fields.Nested(OBRisk2Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- the resources -------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    obapi.register_blueprint(app, _blueprint())


def _blueprint() -> obapi.Blueprint:
    """A new blueprint per app (create_app runs once per test)."""
    blp = obapi.Blueprint("Account Access", __name__, url_prefix="/open-banking/v3.1/aisp",
                          description="Account access consents (OBIE Read/Write API v3.1)")
    blp.register_error_handler(ConsentError, _consent_error)
    # A consent GET or DELETE has no payload a signature could cover: an x-jws-signature on
    # one is 400 UK.OBIE.Signature.Unexpected, as on the AIS resources.
    ob_signing.refuse_unexpected_signatures(blp)
    security = [{"TPPOAuth2Security": [SCOPE]}]
    headers = obapi.FAPI_HEADERS

    @blp.route("/account-access-consents", methods=["POST"])
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="CreateAccountAccessConsents", security=security, parameters=headers)
    @blp.arguments(OBReadConsent1Schema, error_status_code=400)
    @blp.response(201, OBReadConsentResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def create_account_access_consent(body):
        """Create an account access consent (AwaitingAuthorisation)."""
        data = body["Data"]
        p = platform.current()
        now = p.clock.now()
        with p.uow() as uow:
            record = services.create_account_access_consent(
                uow, gate.current_client().client, services.AccountAccessRequest(
                    permissions=data["Permissions"],
                    expiration=data.get("ExpirationDateTime"),
                    transaction_from=data.get("TransactionFromDateTime"),
                    transaction_to=data.get("TransactionToDateTime"),
                    raw=request.get_json()), now)
            uow.commit()
        return _response(record)

    @blp.route("/account-access-consents/<ConsentId>", methods=["GET"])
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="GetAccountAccessConsentsConsentId", security=security,
             parameters=headers)
    @blp.response(200, OBReadConsentResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_account_access_consent(ConsentId: str):  # noqa: N803 (the OBIE path name)
        """Read an account access consent."""
        p = platform.current()
        now = p.clock.now()
        with p.uow() as uow:
            record = services.get_consent(uow, gate.current_client().client, ConsentId, now)
        return _response(record)

    @blp.route("/account-access-consents/<ConsentId>", methods=["DELETE"])
    @gate.requires_client(SCOPE)
    @blp.doc(operationId="DeleteAccountAccessConsentsConsentId", security=security,
             parameters=headers)
    @blp.response(204)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def delete_account_access_consent(ConsentId: str):  # noqa: N803
        """Delete an account access consent: access ends at once, its tokens are revoked."""
        p = platform.current()
        now = p.clock.now()
        with p.uow() as uow:
            services.delete_consent(uow, gate.current_client().client, ConsentId, now)
            uow.commit()
        return None

    return blp


def _response(record: services.ConsentRecord) -> dict:
    issuer = current_app.config["ISSUER"].rstrip("/")
    path = url_for("Account Access.get_account_access_consent", ConsentId=record.consent_id)
    return {
        "Data": {
            "ConsentId": record.consent_id,
            "CreationDateTime": record.created_at,
            "Status": v31_status(record),
            "StatusUpdateDateTime": record.status_updated_at,
            "Permissions": list(record.permissions),
            "ExpirationDateTime": record.expiration,
            "TransactionFromDateTime": record.transaction_from,
            "TransactionToDateTime": record.transaction_to,
        },
        "Risk": {},
        "Links": {"Self": f"{issuer}{path}"},
        "Meta": {},
    }


def v31_status(record: services.ConsentRecord) -> str:
    """The v3.1 name of the consent's status. v3.1 has no Expired for this resource: an
    expired consent shows Authorised if it was ever authorised, else Rejected."""
    if record.status in V31_STATUSES:
        return record.status.value
    return (ConsentStatus.AUTHORISED if record.authorised_at
            else ConsentStatus.REJECTED).value


_PROBLEM_CODES = {"invalid": ErrorCode.FIELD_INVALID, "missing": ErrorCode.FIELD_MISSING,
                  "expected": ErrorCode.FIELD_EXPECTED, "date": ErrorCode.FIELD_INVALID_DATE}


def lookup_error(error: ConsentError):
    """The OB answer to a ConsentId that names none of the caller's consents (every consent
    API renders it so): another client's consent 403 (OBIE Read/Write profile, "403
    (Forbidden)"), an unknown one 400 UK.OBIE.Resource.NotFound; None for other errors."""
    if isinstance(error, ConsentOfAnotherClient):
        return obapi.render(obapi.forbidden(ErrorCode.RESOURCE_OF_ANOTHER_CLIENT,
                                            error.message, "ConsentId"))
    if isinstance(error, ConsentNotFound):
        return obapi.render(obapi.bad_request(ErrorCode.NOT_FOUND,
                                              "there is no consent with this ConsentId",
                                              "ConsentId"))
    return None


def _consent_error(error: ConsentError):
    if isinstance(error, InvalidConsentRequest):
        return obapi.render(OBError(400, [ErrorItem(_PROBLEM_CODES[p.kind], p.message, p.path)
                                          for p in error.problems]))
    return lookup_error(error) or \
        obapi.render(obapi.bad_request(ErrorCode.INVALID_CONSENT_STATUS, error.message))
