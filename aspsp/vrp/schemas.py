"""Domestic VRP v3.1.11 schemas, named as the OBIE components of vrp-openapi.json. The
request schemas parse and validate (unknown fields refused, lengths, enums, patterns as the
official document has them); the response schemas document the responses, which the views
build as plain dicts (aspsp.obapi.json_response) and the contract tests check against the official
file. The shared blocks (amounts, accounts, Risk, addresses) are payment initiation's."""
from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from marshmallow import validate as v

from aspsp import obapi
from aspsp.obapi import OBSchema
from aspsp.pis.schemas import (CreditorAccountSchema, InstructedAmountSchema,
                               OBPostalAddress6Schema, OBRisk1Schema,
                               OBSupplementaryData1Schema, Strict, one_of, text)

from . import domain

_DATETIME = {"default_timezone": timezone.utc}


class OBCashAccountDebtorWithNameSchema(CreditorAccountSchema):
    """SchemeName, Identification, Name (required), SecondaryIdentification."""


class OBVRPRemittanceInformationSchema(Strict):
    Unstructured = text(1, 140)
    Reference = text(1, 35)


class OBDomesticVRPInitiationSchema(Strict):
    DebtorAccount = ma.fields.Nested(OBCashAccountDebtorWithNameSchema)
    CreditorAccount = ma.fields.Nested(CreditorAccountSchema)
    CreditorPostalAddress = ma.fields.Nested(OBPostalAddress6Schema)
    RemittanceInformation = ma.fields.Nested(OBVRPRemittanceInformationSchema)


class PeriodicLimitSchema(Strict):
    PeriodType = one_of(*domain.PERIOD_TYPES, required=True)
    PeriodAlignment = one_of(*domain.ALIGNMENTS, required=True)
    Amount = ma.fields.String(required=True, validate=v.Regexp(r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$"))
    Currency = ma.fields.String(required=True, validate=v.Regexp(r"^[A-Z]{3,3}$"))


def _codes(*values: str, **kw) -> ma.fields.List:
    return ma.fields.List(ma.fields.String(metadata={"x-namespaced-enum": list(values)}),
                          validate=v.Length(min=1), **kw)


class OBDomesticVRPControlParametersSchema(Strict):
    ValidFromDateTime = ma.fields.AwareDateTime(**_DATETIME)
    ValidToDateTime = ma.fields.AwareDateTime(**_DATETIME)
    MaximumIndividualAmount = ma.fields.Nested(InstructedAmountSchema, required=True)
    PeriodicLimits = ma.fields.List(ma.fields.Nested(PeriodicLimitSchema), required=True,
                                    validate=v.Length(min=1))
    # Namespaced enumerations: any value parses, the rules (aspsp.vrp.domain) name the wrong
    # ones with their path.
    VRPType = _codes(*domain.VRP_TYPES, required=True)
    PSUAuthenticationMethods = _codes(*domain.AUTHENTICATION_METHODS, required=True)
    PSUInteractionTypes = ma.fields.List(one_of(*domain.INTERACTION_TYPES))
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBDomesticVRPConsentRequestDataSchema(Strict):
    ReadRefundAccount = one_of("Yes", "No")
    ControlParameters = ma.fields.Nested(OBDomesticVRPControlParametersSchema, required=True)
    Initiation = ma.fields.Nested(OBDomesticVRPInitiationSchema, required=True)


class OBDomesticVRPConsentRequestSchema(Strict):
    Data = ma.fields.Nested(OBDomesticVRPConsentRequestDataSchema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBDomesticVRPConsentResponseDataSchema(OBSchema):
    ReadRefundAccount = one_of("Yes", "No")
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("Authorised", "AwaitingAuthorisation", "Rejected", required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    ControlParameters = ma.fields.Nested(OBDomesticVRPControlParametersSchema, required=True)
    Initiation = ma.fields.Nested(OBDomesticVRPInitiationSchema, required=True)
    DebtorAccount = ma.fields.Nested(OBCashAccountDebtorWithNameSchema)


class OBDomesticVRPConsentResponseSchema(OBSchema):
    Data = ma.fields.Nested(OBDomesticVRPConsentResponseDataSchema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class OBDomesticVRPInstructionSchema(Strict):
    InstructionIdentification = text(1, 35, required=True)
    EndToEndIdentification = text(1, 35, required=True)
    RemittanceInformation = ma.fields.Nested(OBVRPRemittanceInformationSchema)
    LocalInstrument = ma.fields.String(validate=v.Length(1, 50))
    InstructedAmount = ma.fields.Nested(InstructedAmountSchema, required=True)
    CreditorPostalAddress = ma.fields.Nested(OBPostalAddress6Schema)
    CreditorAccount = ma.fields.Nested(CreditorAccountSchema, required=True)
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBDomesticVRPRequestDataSchema(Strict):
    ConsentId = text(1, 128, required=True)
    PSUAuthenticationMethod = ma.fields.String(required=True, metadata={
        "x-namespaced-enum": list(domain.AUTHENTICATION_METHODS)})
    PSUInteractionType = one_of(*domain.INTERACTION_TYPES)
    VRPType = ma.fields.String(required=True, metadata={
        "x-namespaced-enum": list(domain.VRP_TYPES)})
    Initiation = ma.fields.Nested(OBDomesticVRPInitiationSchema, required=True)
    Instruction = ma.fields.Nested(OBDomesticVRPInstructionSchema, required=True)


class OBDomesticVRPRequestSchema(Strict):
    Data = ma.fields.Nested(OBDomesticVRPRequestDataSchema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


PAYMENT_STATUSES = ("AcceptedCreditSettlementCompleted", "AcceptedWithoutPosting",
                    "AcceptedSettlementCompleted", "AcceptedSettlementInProcess", "Pending",
                    "Rejected")


class OBDomesticVRPResponseDataSchema(OBSchema):
    DomesticVRPId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of(*PAYMENT_STATUSES, required=True)
    StatusReason = ma.fields.String(metadata={
        "x-namespaced-enum": ["UK.OBIE.ExemptionNotApplied", "UK.OBIE.OtherReason"]})
    StatusReasonDescription = text(1, 256)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBDomesticVRPInitiationSchema, required=True)
    Instruction = ma.fields.Nested(OBDomesticVRPInstructionSchema, required=True)
    DebtorAccount = ma.fields.Nested(OBCashAccountDebtorWithNameSchema)


class OBDomesticVRPResponseSchema(OBSchema):
    Data = ma.fields.Nested(OBDomesticVRPResponseDataSchema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class VrpStatusDetailSchema(OBSchema):
    LocalInstrument = ma.fields.String()
    Status = ma.fields.String(required=True)
    StatusReason = one_of("Cancelled", "PendingFailingSettlement", "PendingSettlement",
                          "Proprietary", "ProprietaryRejection", "Suspended", "Unmatched")
    StatusReasonDescription = text(1, 128)


class VrpPaymentStatusSchema(OBSchema):
    PaymentTransactionId = ma.fields.String(required=True)
    Status = ma.fields.String(required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    StatusDetail = ma.fields.Nested(VrpStatusDetailSchema)


class OBDomesticVRPDetailsDataSchema(OBSchema):
    PaymentStatus = ma.fields.List(ma.fields.Nested(VrpPaymentStatusSchema))


class OBDomesticVRPDetailsSchema(OBSchema):
    Data = ma.fields.Nested(OBDomesticVRPDetailsDataSchema)


class OBVRPFundsConfirmationRequestDataSchema(Strict):
    ConsentId = text(1, 128, required=True)
    Reference = text(1, 35)
    InstructedAmount = ma.fields.Nested(InstructedAmountSchema, required=True)


class OBVRPFundsConfirmationRequestSchema(Strict):
    Data = ma.fields.Nested(OBVRPFundsConfirmationRequestDataSchema, required=True)


class OBPAFundsAvailableResult1Schema(OBSchema):
    FundsAvailableDateTime = ma.fields.AwareDateTime(required=True)
    FundsAvailable = one_of("Available", "NotAvailable", required=True)


class OBVRPFundsConfirmationResponseDataSchema(OBSchema):
    FundsConfirmationId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Reference = ma.fields.String()
    FundsAvailableResult = ma.fields.Nested(OBPAFundsAvailableResult1Schema, required=True)
    InstructedAmount = ma.fields.Nested(InstructedAmountSchema, required=True)


class OBVRPFundsConfirmationResponseSchema(OBSchema):
    Data = ma.fields.Nested(OBVRPFundsConfirmationResponseDataSchema, required=True)
