"""Payment Initiation v3.1.11 schemas, named as the OBIE components. The request schemas
parse and validate (unknown fields refused, lengths, enums, patterns as the official
document has them); the response schemas document the responses in the generated OpenAPI
document, which the views build directly (aspsp.obapi.json_response) and the contract tests check
against the official file."""
from __future__ import annotations

from datetime import timezone

import marshmallow as ma
from marshmallow import validate as v

from aspsp import obapi
from aspsp.obapi import OBSchema

_DATETIME = {"default_timezone": timezone.utc}
AMOUNT_PATTERN = r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$"


def text(low: int, high: int, **kw) -> ma.fields.String:
    return ma.fields.String(validate=v.Length(low, high), **kw)


def one_of(*choices: str, **kw) -> ma.fields.String:
    return ma.fields.String(validate=v.OneOf(choices), metadata={"enum": list(choices)}, **kw)


class Strict(OBSchema):
    class Meta:
        unknown = ma.RAISE


class InstructedAmountSchema(Strict):
    Amount = ma.fields.String(required=True, validate=v.Regexp(AMOUNT_PATTERN))
    Currency = ma.fields.String(required=True, validate=v.Regexp(r"^[A-Z]{3,3}$"))


class DebtorAccountSchema(Strict):
    SchemeName = ma.fields.String(required=True, validate=v.Length(1, 40), metadata={
        "description": "UK.OBIE.SortCodeAccountNumber or UK.OBIE.IBAN"})
    Identification = text(1, 256, required=True)
    Name = text(1, 350)
    SecondaryIdentification = text(1, 34)


class CreditorAccountSchema(DebtorAccountSchema):
    Name = text(1, 350, required=True)


class OBPostalAddress6Schema(Strict):
    AddressType = one_of("Business", "Correspondence", "DeliveryTo", "MailTo", "POBox",
                         "Postal", "Residential", "Statement")
    Department = text(1, 70)
    SubDepartment = text(1, 70)
    StreetName = text(1, 70)
    BuildingNumber = text(1, 16)
    PostCode = text(1, 16)
    TownName = text(1, 35)
    CountrySubDivision = text(1, 35)
    Country = ma.fields.String(validate=v.Regexp(r"^[A-Z]{2,2}$"))
    AddressLine = ma.fields.List(text(1, 70), validate=v.Length(0, 7))


class OBRemittanceInformationSchema(Strict):
    Unstructured = text(1, 140)
    Reference = text(1, 35)


class OBSupplementaryData1Schema(OBSchema):
    class Meta:
        unknown = ma.INCLUDE


class OBDomesticInitiationSchema(Strict):
    InstructionIdentification = text(1, 35, required=True)
    EndToEndIdentification = text(1, 35, required=True)
    LocalInstrument = ma.fields.String(validate=v.Length(1, 50))
    InstructedAmount = ma.fields.Nested(InstructedAmountSchema,
                                        required=True)
    DebtorAccount = ma.fields.Nested(DebtorAccountSchema)
    CreditorAccount = ma.fields.Nested(CreditorAccountSchema, required=True)
    CreditorPostalAddress = ma.fields.Nested(OBPostalAddress6Schema)
    RemittanceInformation = ma.fields.Nested(OBRemittanceInformationSchema)
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBAuthorisationSchema(Strict):
    AuthorisationType = one_of("Any", "Single", required=True)
    CompletionDateTime = ma.fields.AwareDateTime(**_DATETIME)


class OBSCASupportData1Schema(Strict):
    RequestedSCAExemptionType = one_of("BillPayment", "ContactlessTravel", "EcommerceGoods",
                                       "EcommerceServices", "Kiosk", "Parking", "PartyToParty")
    AppliedAuthenticationApproach = one_of("CA", "SCA")
    ReferencePaymentOrderId = text(1, 40)


class DeliveryAddressSchema(Strict):
    AddressLine = ma.fields.List(text(1, 70), validate=v.Length(0, 2))
    StreetName = text(1, 70)
    BuildingNumber = text(1, 16)
    PostCode = text(1, 16)
    TownName = text(1, 35, required=True)
    CountrySubDivision = text(1, 35)
    Country = ma.fields.String(required=True, validate=v.Regexp(r"^[A-Z]{2,2}$"))


class StrictBoolean(ma.fields.Boolean):
    """true or false, the JSON values (not "yes", 1 or "true")."""
    truthy = {True}
    falsy = {False}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class OBRisk1Schema(Strict):
    PaymentContextCode = one_of(
        "BillingGoodsAndServicesInAdvance", "BillingGoodsAndServicesInArrears", "PispPayee",
        "EcommerceMerchantInitiatedPayment", "FaceToFacePointOfSale", "TransferToSelf",
        "TransferToThirdParty", "BillPayment", "EcommerceGoods", "EcommerceServices", "Other",
        "PartyToParty")
    MerchantCategoryCode = text(3, 4)
    MerchantCustomerIdentification = text(1, 70)
    ContractPresentInidicator = StrictBoolean()     # sic: the v3.1.11 spelling
    BeneficiaryPrepopulatedIndicator = StrictBoolean()
    PaymentPurposeCode = text(3, 4)
    BeneficiaryAccountType = one_of(
        "Business", "BusinessSavingsAccount", "Charity", "Collection", "Corporate", "Ewallet",
        "Government", "Investment", "ISA", "JointPersonal", "Pension", "Personal",
        "PersonalSavingsAccount", "Premier", "Wealth")
    DeliveryAddress = ma.fields.Nested(DeliveryAddressSchema)


# --- domestic payment consents -------------------------------------------------------------
class OBWriteDomesticConsentData4Schema(Strict):
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBDomesticInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteDomesticConsent4Schema(Strict):
    Data = ma.fields.Nested(OBWriteDomesticConsentData4Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBCashAccountDebtor4Schema(OBSchema):
    SchemeName = ma.fields.String(required=True)
    Identification = ma.fields.String(required=True)
    Name = ma.fields.String()
    SecondaryIdentification = ma.fields.String()


class OBCharge2Schema(OBSchema):
    """One of the bank's charges for the payment (its tariff: aspsp.pis.charges)."""
    ChargeBearer = one_of("BorneByCreditor", "BorneByDebtor", "FollowingServiceLevel",
                          "Shared", required=True)
    Type = ma.fields.String(required=True, metadata={
        "description": "the bank's charge type, e.g. UK.InvisibleBank.SWIFTOut"})
    Amount = ma.fields.Nested(InstructedAmountSchema, required=True)


class OBWriteDomesticConsentResponseData5Schema(OBSchema):
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("Authorised", "AwaitingAuthorisation", "Consumed", "Rejected",
                    required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBDomesticInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)
    Charges = ma.fields.List(ma.fields.Nested(OBCharge2Schema))
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteDomesticConsentResponse5Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteDomesticConsentResponseData5Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class FundsAvailableResultSchema(OBSchema):
    FundsAvailableDateTime = ma.fields.AwareDateTime(required=True)
    FundsAvailable = ma.fields.Boolean(required=True)


class OBWriteFundsConfirmationResponseData1Schema(OBSchema):
    FundsAvailableResult = ma.fields.Nested(FundsAvailableResultSchema)


class OBWriteFundsConfirmationResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteFundsConfirmationResponseData1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- domestic payments -----------------------------------------------------------------------
class OBWriteDomesticData2Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBDomesticInitiationSchema, required=True)


class OBWriteDomestic2Schema(Strict):
    Data = ma.fields.Nested(OBWriteDomesticData2Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteDomesticResponseData5Schema(OBSchema):
    DomesticPaymentId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("AcceptedCreditSettlementCompleted", "AcceptedSettlementCompleted",
                    "AcceptedSettlementInProcess", "AcceptedWithoutPosting", "Pending",
                    "Rejected", required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBDomesticInitiationSchema, required=True)
    Charges = ma.fields.List(ma.fields.Nested(OBCharge2Schema))
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteDomesticResponse5Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteDomesticResponseData5Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class StatusDetailSchema(OBSchema):
    Status = ma.fields.String(required=True)
    StatusReason = one_of("Cancelled", "PendingFailingSettlement", "PendingSettlement",
                          "Proprietary", "ProprietaryRejection", "Suspended", "Unmatched")
    StatusReasonDescription = ma.fields.String()


class PaymentStatusSchema(OBSchema):
    PaymentTransactionId = ma.fields.String(required=True)
    Status = ma.fields.String(required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    StatusDetail = ma.fields.Nested(StatusDetailSchema)


class OBWritePaymentDetailsResponseData1Schema(OBSchema):
    PaymentStatus = ma.fields.List(ma.fields.Nested(PaymentStatusSchema))


class OBWritePaymentDetailsResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBWritePaymentDetailsResponseData1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- domestic scheduled payments -------------------------------------------------------------
class OBDomesticScheduledInitiationSchema(OBDomesticInitiationSchema):
    EndToEndIdentification = text(1, 35)
    RequestedExecutionDateTime = ma.fields.AwareDateTime(required=True, **_DATETIME)


class OBWriteDomesticScheduledConsentData4Schema(Strict):
    Permission = one_of("Create", required=True)
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBDomesticScheduledInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteDomesticScheduledConsent4Schema(Strict):
    Data = ma.fields.Nested(OBWriteDomesticScheduledConsentData4Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteDomesticScheduledConsentResponseData5Schema(
        OBWriteDomesticConsentResponseData5Schema):
    Permission = one_of("Create", required=True)
    Initiation = ma.fields.Nested(OBDomesticScheduledInitiationSchema, required=True)


class OBWriteDomesticScheduledConsentResponse5Schema(OBWriteDomesticConsentResponse5Schema):
    Data = ma.fields.Nested(OBWriteDomesticScheduledConsentResponseData5Schema, required=True)


class OBWriteDomesticScheduledData2Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBDomesticScheduledInitiationSchema, required=True)


class OBWriteDomesticScheduled2Schema(Strict):
    Data = ma.fields.Nested(OBWriteDomesticScheduledData2Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


INITIATION_STATUSES = ("Cancelled", "InitiationCompleted", "InitiationFailed",
                       "InitiationPending")


class OBWriteDomesticScheduledResponseData5Schema(OBSchema):
    DomesticScheduledPaymentId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of(*INITIATION_STATUSES, required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBDomesticScheduledInitiationSchema, required=True)
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteDomesticScheduledResponse5Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteDomesticScheduledResponseData5Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- domestic standing orders ----------------------------------------------------------------
class OBDomesticStandingOrderInitiationSchema(Strict):
    Frequency = text(1, 35, required=True, metadata={
        "description": "OBIE frequency code: EvryDay, EvryWorkgDay, IntrvlDay:NN, "
                       "IntrvlWkDay:WW:DD, WkInMnthDay:WW:DD, IntrvlMnthDay:MM:DD, QtrDay:..."})
    Reference = text(1, 35)
    NumberOfPayments = text(1, 35)
    FirstPaymentDateTime = ma.fields.AwareDateTime(required=True, **_DATETIME)
    RecurringPaymentDateTime = ma.fields.AwareDateTime(**_DATETIME)
    FinalPaymentDateTime = ma.fields.AwareDateTime(**_DATETIME)
    FirstPaymentAmount = ma.fields.Nested(InstructedAmountSchema, required=True)
    RecurringPaymentAmount = ma.fields.Nested(InstructedAmountSchema)
    FinalPaymentAmount = ma.fields.Nested(InstructedAmountSchema)
    DebtorAccount = ma.fields.Nested(DebtorAccountSchema)
    CreditorAccount = ma.fields.Nested(CreditorAccountSchema, required=True)
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBWriteDomesticStandingOrderConsentData5Schema(Strict):
    Permission = one_of("Create", required=True)
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBDomesticStandingOrderInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteDomesticStandingOrderConsent5Schema(Strict):
    Data = ma.fields.Nested(OBWriteDomesticStandingOrderConsentData5Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteDomesticStandingOrderConsentResponseData6Schema(OBSchema):
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("Authorised", "AwaitingAuthorisation", "Consumed", "Rejected",
                    required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Permission = one_of("Create", required=True)
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBDomesticStandingOrderInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteDomesticStandingOrderConsentResponse6Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteDomesticStandingOrderConsentResponseData6Schema,
                            required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class OBWriteDomesticStandingOrderData3Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBDomesticStandingOrderInitiationSchema, required=True)


class OBWriteDomesticStandingOrder3Schema(Strict):
    Data = ma.fields.Nested(OBWriteDomesticStandingOrderData3Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteDomesticStandingOrderResponseData6Schema(OBSchema):
    DomesticStandingOrderId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of(*INITIATION_STATUSES, required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBDomesticStandingOrderInitiationSchema, required=True)
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteDomesticStandingOrderResponse6Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteDomesticStandingOrderResponseData6Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- international payments ------------------------------------------------------------------
CHARGE_BEARERS = ("BorneByCreditor", "BorneByDebtor", "FollowingServiceLevel", "Shared")
RATE_TYPES = ("Actual", "Agreed", "Indicative")
CURRENCY = r"^[A-Z]{3,3}$"


class StrictNumber(ma.fields.Decimal):
    """A JSON number (not a string, not a boolean), kept exact."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class OBExchangeRate1Schema(Strict):
    UnitCurrency = ma.fields.String(required=True, validate=v.Regexp(CURRENCY))
    ExchangeRate = StrictNumber(allow_nan=False, metadata={"type": "number"})
    RateType = one_of(*RATE_TYPES, required=True)
    ContractIdentification = text(1, 256)


class OBPartyIdentification43Schema(Strict):
    Name = text(1, 140)
    PostalAddress = ma.fields.Nested(OBPostalAddress6Schema)


class OBBranchAndFinancialInstitutionIdentification6Schema(Strict):
    SchemeName = ma.fields.String(validate=v.Length(1, 40), metadata={
        "description": "UK.OBIE.BICFI"})
    Identification = text(1, 35)
    Name = text(1, 140)
    PostalAddress = ma.fields.Nested(OBPostalAddress6Schema)


class OBInternationalInitiationSchema(Strict):
    InstructionIdentification = text(1, 35, required=True)
    EndToEndIdentification = text(1, 35, required=True)
    LocalInstrument = ma.fields.String(validate=v.Length(1, 50))
    InstructionPriority = one_of("Normal", "Urgent")
    Purpose = text(1, 4)
    ExtendedPurpose = text(1, 140)
    ChargeBearer = one_of(*CHARGE_BEARERS)
    CurrencyOfTransfer = ma.fields.String(required=True, validate=v.Regexp(CURRENCY))
    DestinationCountryCode = ma.fields.String(validate=v.Regexp(r"^[A-Z]{2,2}$"))
    InstructedAmount = ma.fields.Nested(InstructedAmountSchema, required=True)
    ExchangeRateInformation = ma.fields.Nested(OBExchangeRate1Schema)
    DebtorAccount = ma.fields.Nested(DebtorAccountSchema)
    Creditor = ma.fields.Nested(OBPartyIdentification43Schema)
    CreditorAgent = ma.fields.Nested(OBBranchAndFinancialInstitutionIdentification6Schema)
    CreditorAccount = ma.fields.Nested(CreditorAccountSchema, required=True)
    RemittanceInformation = ma.fields.Nested(OBRemittanceInformationSchema)
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBExchangeRate2Schema(OBSchema):
    UnitCurrency = ma.fields.String(required=True)
    ExchangeRate = ma.fields.Float(required=True)
    RateType = one_of(*RATE_TYPES, required=True)
    ContractIdentification = ma.fields.String()
    ExpirationDateTime = ma.fields.AwareDateTime()


class OBWriteInternationalConsentData5Schema(Strict):
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBInternationalInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteInternationalConsent5Schema(Strict):
    Data = ma.fields.Nested(OBWriteInternationalConsentData5Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteInternationalConsentResponseData6Schema(OBWriteDomesticConsentResponseData5Schema):
    ExchangeRateInformation = ma.fields.Nested(OBExchangeRate2Schema)
    Initiation = ma.fields.Nested(OBInternationalInitiationSchema, required=True)


class OBWriteInternationalConsentResponse6Schema(OBWriteDomesticConsentResponse5Schema):
    Data = ma.fields.Nested(OBWriteInternationalConsentResponseData6Schema, required=True)


class OBWriteInternationalData3Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBInternationalInitiationSchema, required=True)


class OBWriteInternational3Schema(Strict):
    Data = ma.fields.Nested(OBWriteInternationalData3Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteInternationalResponseData5Schema(OBSchema):
    InternationalPaymentId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("AcceptedCreditSettlementCompleted", "AcceptedSettlementCompleted",
                    "AcceptedSettlementInProcess", "AcceptedWithoutPosting", "Pending",
                    "Rejected", required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    ExchangeRateInformation = ma.fields.Nested(OBExchangeRate2Schema)
    Initiation = ma.fields.Nested(OBInternationalInitiationSchema, required=True)
    Charges = ma.fields.List(ma.fields.Nested(OBCharge2Schema))
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteInternationalResponse5Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteInternationalResponseData5Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- international scheduled payments --------------------------------------------------------
class OBInternationalScheduledInitiationSchema(OBInternationalInitiationSchema):
    EndToEndIdentification = text(1, 35)
    RequestedExecutionDateTime = ma.fields.AwareDateTime(required=True, **_DATETIME)


class OBWriteInternationalScheduledConsentData5Schema(Strict):
    Permission = one_of("Create", required=True)
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBInternationalScheduledInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteInternationalScheduledConsent5Schema(Strict):
    Data = ma.fields.Nested(OBWriteInternationalScheduledConsentData5Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteInternationalScheduledConsentResponseData6Schema(
        OBWriteInternationalConsentResponseData6Schema):
    Permission = one_of("Create", required=True)
    Initiation = ma.fields.Nested(OBInternationalScheduledInitiationSchema, required=True)


class OBWriteInternationalScheduledConsentResponse6Schema(
        OBWriteDomesticConsentResponse5Schema):
    Data = ma.fields.Nested(OBWriteInternationalScheduledConsentResponseData6Schema,
                            required=True)


class OBWriteInternationalScheduledData3Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBInternationalScheduledInitiationSchema, required=True)


class OBWriteInternationalScheduled3Schema(Strict):
    Data = ma.fields.Nested(OBWriteInternationalScheduledData3Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteInternationalScheduledResponseData6Schema(OBSchema):
    InternationalScheduledPaymentId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of(*INITIATION_STATUSES, required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    ExchangeRateInformation = ma.fields.Nested(OBExchangeRate2Schema)
    Initiation = ma.fields.Nested(OBInternationalScheduledInitiationSchema, required=True)
    Charges = ma.fields.List(ma.fields.Nested(OBCharge2Schema))
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteInternationalScheduledResponse6Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteInternationalScheduledResponseData6Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- international standing orders -----------------------------------------------------------
class OBStandingOrderCreditorSchema(OBPartyIdentification43Schema):
    Name = text(1, 350)


class OBStandingOrderCreditorAgentSchema(
        OBBranchAndFinancialInstitutionIdentification6Schema):
    Identification = text(1, 35)


class OBInternationalStandingOrderInitiationSchema(Strict):
    Frequency = text(1, 35, required=True, metadata={
        "description": "OBIE frequency code: EvryDay, EvryWorkgDay, IntrvlDay:NN, "
                       "IntrvlWkDay:WW:DD, WkInMnthDay:WW:DD, IntrvlMnthDay:MM:DD, QtrDay:..."})
    Reference = text(1, 35)
    NumberOfPayments = text(1, 35)
    FirstPaymentDateTime = ma.fields.AwareDateTime(required=True, **_DATETIME)
    FinalPaymentDateTime = ma.fields.AwareDateTime(**_DATETIME)
    Purpose = text(1, 4)
    ExtendedPurpose = text(1, 140)
    ChargeBearer = one_of(*CHARGE_BEARERS)
    CurrencyOfTransfer = ma.fields.String(required=True, validate=v.Regexp(CURRENCY))
    DestinationCountryCode = ma.fields.String(validate=v.Regexp(r"^[A-Z]{2,2}$"))
    InstructedAmount = ma.fields.Nested(InstructedAmountSchema, required=True)
    DebtorAccount = ma.fields.Nested(DebtorAccountSchema)
    Creditor = ma.fields.Nested(OBStandingOrderCreditorSchema)
    CreditorAgent = ma.fields.Nested(OBStandingOrderCreditorAgentSchema)
    CreditorAccount = ma.fields.Nested(CreditorAccountSchema, required=True)
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBWriteInternationalStandingOrderConsentData6Schema(Strict):
    Permission = one_of("Create", required=True)
    ReadRefundAccount = one_of("No", "Yes")
    Initiation = ma.fields.Nested(OBInternationalStandingOrderInitiationSchema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteInternationalStandingOrderConsent6Schema(Strict):
    Data = ma.fields.Nested(OBWriteInternationalStandingOrderConsentData6Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteInternationalStandingOrderConsentResponseData7Schema(
        OBWriteDomesticStandingOrderConsentResponseData6Schema):
    Initiation = ma.fields.Nested(OBInternationalStandingOrderInitiationSchema, required=True)
    Charges = ma.fields.List(ma.fields.Nested(OBCharge2Schema))    # on each payment


class OBWriteInternationalStandingOrderConsentResponse7Schema(
        OBWriteDomesticStandingOrderConsentResponse6Schema):
    Data = ma.fields.Nested(OBWriteInternationalStandingOrderConsentResponseData7Schema,
                            required=True)


class OBWriteInternationalStandingOrderData4Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBInternationalStandingOrderInitiationSchema, required=True)


class OBWriteInternationalStandingOrder4Schema(Strict):
    Data = ma.fields.Nested(OBWriteInternationalStandingOrderData4Schema, required=True)
    Risk = ma.fields.Nested(OBRisk1Schema, required=True)


class OBWriteInternationalStandingOrderResponseData7Schema(OBSchema):
    InternationalStandingOrderId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of(*INITIATION_STATUSES, required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBInternationalStandingOrderInitiationSchema, required=True)
    Charges = ma.fields.List(ma.fields.Nested(OBCharge2Schema))
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteInternationalStandingOrderResponse7Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteInternationalStandingOrderResponseData7Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


# --- file payments ---------------------------------------------------------------------------
class OBFile2Schema(Strict):
    FileType = ma.fields.String(required=True, validate=v.Length(1, 40), metadata={
        "description": "UK.OBIE.PaymentInitiation.3.1 (the one file type this bank reads)"})
    FileHash = text(1, 44, required=True, metadata={
        "description": "The base64 encoding of the file's SHA-256"})
    FileReference = text(1, 40)
    NumberOfTransactions = ma.fields.String(validate=v.Regexp(r"^[0-9]{1,15}$"))
    ControlSum = StrictNumber(allow_nan=False, metadata={"type": "number"})
    RequestedExecutionDateTime = ma.fields.AwareDateTime(**_DATETIME)
    LocalInstrument = ma.fields.String(validate=v.Length(1, 50))
    DebtorAccount = ma.fields.Nested(DebtorAccountSchema)
    RemittanceInformation = ma.fields.Nested(OBRemittanceInformationSchema)
    SupplementaryData = ma.fields.Nested(OBSupplementaryData1Schema)


class OBWriteFileConsentData3Schema(Strict):
    Initiation = ma.fields.Nested(OBFile2Schema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)


class OBWriteFileConsent3Schema(Strict):
    """A file payment consent: the file's metadata (no Risk: "not relevant for a file
    payment"); the file follows, POSTed to the consent's /file."""
    Data = ma.fields.Nested(OBWriteFileConsentData3Schema, required=True)


class OBWriteFileConsentResponseData4Schema(OBSchema):
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("Authorised", "AwaitingAuthorisation", "AwaitingUpload", "Consumed",
                    "Rejected", required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBFile2Schema, required=True)
    Authorisation = ma.fields.Nested(OBAuthorisationSchema)
    SCASupportData = ma.fields.Nested(OBSCASupportData1Schema)
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteFileConsentResponse4Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteFileConsentResponseData4Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)


class OBWriteFileData2Schema(Strict):
    ConsentId = text(1, 128, required=True)
    Initiation = ma.fields.Nested(OBFile2Schema, required=True)


class OBWriteFile2Schema(Strict):
    Data = ma.fields.Nested(OBWriteFileData2Schema, required=True)


class OBWriteFileResponseData3Schema(OBSchema):
    FilePaymentId = ma.fields.String(required=True)
    ConsentId = ma.fields.String(required=True)
    CreationDateTime = ma.fields.AwareDateTime(required=True)
    Status = one_of("InitiationCompleted", "InitiationFailed", "InitiationPending",
                    required=True)
    StatusUpdateDateTime = ma.fields.AwareDateTime(required=True)
    Initiation = ma.fields.Nested(OBFile2Schema, required=True)
    Debtor = ma.fields.Nested(OBCashAccountDebtor4Schema)


class OBWriteFileResponse3Schema(OBSchema):
    Data = ma.fields.Nested(OBWriteFileResponseData3Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema, required=True)
    Meta = ma.fields.Nested(obapi.MetaSchema, required=True)
