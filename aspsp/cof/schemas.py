"""Request and response schemas of the Confirmation of Funds API v3.1.11, named as the
official OpenAPI document names them. Requests are parsed with them (unknown fields refused);
responses are built as plain dicts (aspsp.obapi.json_response) and the schemas document them."""
from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from marshmallow import validate

from aspsp import obapi
from aspsp.obapi import OBSchema

_DATETIME = {"default_timezone": timezone.utc}
AMOUNT = r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$"
CURRENCY = r"^[A-Z]{3,3}$"
SCHEMES = ("UK.OBIE.BBAN", "UK.OBIE.IBAN", "UK.OBIE.PAN", "UK.OBIE.Paym",
           "UK.OBIE.SortCodeAccountNumber", "UK.OBIE.Wallet")
STATUSES = ("Authorised", "AwaitingAuthorisation", "Rejected", "Revoked")


class OBFundsConfirmationDebtorSchema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    SchemeName = ma.fields.String(required=True, metadata={
        "description": "UK.OBIE.SortCodeAccountNumber or UK.OBIE.IBAN (the bank's accounts)",
        "x-namespaced-enum": list(SCHEMES)})
    Identification = ma.fields.String(required=True, validate=validate.Length(1, 256))
    Name = ma.fields.String(validate=validate.Length(1, 350))
    SecondaryIdentification = ma.fields.String(validate=validate.Length(1, 34))


class OBFundsConfirmationConsentDataSchema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    ExpirationDateTime = ma.fields.AwareDateTime(**_DATETIME)
    DebtorAccount = ma.fields.Nested(OBFundsConfirmationDebtorSchema, required=True)


class OBFundsConfirmationConsent1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    Data = ma.fields.Nested(OBFundsConfirmationConsentDataSchema, required=True)


class OBFundsConfirmationConsentDataResponseSchema(OBSchema):
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    ExpirationDateTime = ma.fields.AwareDateTime()
    DebtorAccount = ma.fields.Nested(OBFundsConfirmationDebtorSchema, required=True)


class OBFundsConfirmationConsentResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBFundsConfirmationConsentDataResponseSchema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class OBFundsConfirmationAmountSchema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    Amount = ma.fields.String(required=True, validate=validate.Regexp(AMOUNT))
    Currency = ma.fields.String(required=True, validate=validate.Regexp(CURRENCY))


class OBFundsConfirmationDataSchema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    ConsentId = ma.fields.String(required=True, validate=validate.Length(1, 128))
    Reference = ma.fields.String(required=True, validate=validate.Length(1, 35))
    InstructedAmount = ma.fields.Nested(OBFundsConfirmationAmountSchema,
                                        required=True)


class OBFundsConfirmation1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    Data = ma.fields.Nested(OBFundsConfirmationDataSchema, required=True)


class OBFundsConfirmationDataResponseSchema(OBSchema):
    FundsConfirmationId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    FundsAvailable = ma.fields.Boolean(required=True, metadata={
        "description": "Whether the account's available balance and arranged overdraft "
                       "cover the amount (never the balance itself)"})
    Reference = ma.fields.String(required=True)
    InstructedAmount = ma.fields.Nested(OBFundsConfirmationAmountSchema,
                                        required=True)


class OBFundsConfirmationResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBFundsConfirmationDataResponseSchema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)
