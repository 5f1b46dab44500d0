"""The AIS v3.1.11 payloads as marshmallow schemas: the query parameters in, the resources
out. Component names follow the OBIE document (OBReadAccount6, OBReadTransaction6, ...), so
the generated OpenAPI reads like the official one."""
from __future__ import annotations

import marshmallow as ma

from aspsp.obapi import LinksSchema, MetaSchema, OBSchema

from .filters import parse_filter_datetime
from .paging import PAGE_PARAM

AMOUNT_PATTERN = r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$"
F = ma.fields


def _enum(*values: str) -> dict:
    return {"enum": list(values)}


def _text(limit: int, required: bool = False, **metadata) -> F.String:
    return F.String(required=required, metadata={"maxLength": limit, "minLength": 1,
                                                  **metadata})


# --- query parameters ----------------------------------------------------------------------
class FilterDateTime(F.DateTime):
    """An OBIE filter date-time: ISO 8601, date alone allowed, time zone ignored."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_filter_datetime(value)
        except ValueError:
            raise self.make_error("invalid", input=value, obj_type="date-time") from None


class _Query(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class NoQuerySchema(_Query):
    """The endpoint takes no query parameters: any is refused."""


class PageQuerySchema(_Query):
    page = F.String(data_key=PAGE_PARAM, metadata={
        "description": "An opaque page cursor, as given in Links.Next/Prev/Last"})


class TransactionsQuerySchema(PageQuerySchema):
    fromBookingDateTime = FilterDateTime(metadata={
        "description": "Transactions booked at or after this time (ISO 8601; a time zone, "
                       "if given, is ignored: times are UTC)"})
    toBookingDateTime = FilterDateTime(metadata={
        "description": "Transactions booked at or before this time (as fromBookingDateTime)"})


class StatementsQuerySchema(_Query):
    fromStatementDateTime = FilterDateTime(metadata={
        "description": "Statements starting at or after this time (time zone ignored)"})
    toStatementDateTime = FilterDateTime(metadata={
        "description": "Statements ending at or before this time (time zone ignored)"})


# --- shared pieces -----------------------------------------------------------------------
class OBActiveOrHistoricCurrencyAndAmountSchema(OBSchema):
    Amount = F.String(required=True, metadata={"pattern": AMOUNT_PATTERN})
    Currency = F.String(required=True, metadata={"pattern": "^[A-Z]{3,3}$"})


class OBCashAccountSchema(OBSchema):
    SchemeName = F.String(metadata={"description": "UK.OBIE.SortCodeAccountNumber, "
                                                   "UK.OBIE.IBAN, UK.OBIE.PAN, ..."})
    Identification = _text(256)
    Name = _text(350)
    SecondaryIdentification = _text(34)


class OBBranchAndFinancialInstitutionIdentificationSchema(OBSchema):
    SchemeName = F.String()
    Identification = _text(35)
    Name = _text(140)


class OBPostalAddressSchema(OBSchema):
    AddressType = F.String(metadata=_enum("Business", "Correspondence", "DeliveryTo", "MailTo",
                                          "POBox", "Postal", "Residential", "Statement"))
    AddressLine = F.List(_text(70), metadata={"maxItems": 5})
    StreetName = _text(70)
    BuildingNumber = _text(16)
    PostCode = _text(16)
    TownName = _text(35)
    CountrySubDivision = _text(35)
    Country = F.String(required=True, metadata={"pattern": "^[A-Z]{2,2}$"})


def _envelope(name: str, data_schema) -> type[OBSchema]:
    """OBRead... {Data, Links, Meta}."""
    return type(name, (OBSchema,), {
        "Data": F.Nested(data_schema, required=True),
        "Links": F.Nested(LinksSchema, required=True),
        "Meta": F.Nested(MetaSchema, required=True)})


def _data(name: str, key: str, item_schema, many: bool = True) -> type[OBSchema]:
    field = F.List(F.Nested(item_schema)) if many else F.Nested(item_schema)
    return type(name, (OBSchema,), {key: field})


# --- accounts ------------------------------------------------------------------------------
class OBAccount6Schema(OBSchema):
    AccountId = _text(40, required=True)
    Status = F.String(metadata=_enum("Deleted", "Disabled", "Enabled", "Pending", "ProForma"))
    StatusUpdateDateTime = F.AwareDateTime()
    Currency = F.String(required=True, metadata={"pattern": "^[A-Z]{3,3}$"})
    AccountType = F.String(required=True, metadata=_enum("Business", "Personal"))
    AccountSubType = F.String(required=True, metadata=_enum(
        "ChargeCard", "CreditCard", "CurrentAccount", "EMoney", "Loan", "Mortgage",
        "PrePaidCard", "Savings"))
    Description = _text(35)
    Nickname = _text(70)
    OpeningDate = F.AwareDateTime()
    MaturityDate = F.AwareDateTime()
    Account = F.List(F.Nested(OBCashAccountSchema), metadata={
        "description": "Only with ReadAccountsDetail"})
    Servicer = F.Nested(OBBranchAndFinancialInstitutionIdentificationSchema, metadata={
        "description": "Only with ReadAccountsDetail"})


OBReadAccount6Schema = _envelope("OBReadAccount6Schema",
                                 _data("OBReadAccount6DataSchema", "Account", OBAccount6Schema))


# --- balances ------------------------------------------------------------------------------
class OBCreditLineSchema(OBSchema):
    Included = F.Boolean(required=True)
    Type = F.String(metadata=_enum("Available", "Credit", "Emergency", "Pre-Agreed",
                                   "Temporary"))
    Amount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)


class OBCashBalanceSchema(OBSchema):
    AccountId = _text(40, required=True)
    CreditDebitIndicator = F.String(required=True, metadata=_enum("Credit", "Debit"))
    Type = F.String(required=True, metadata=_enum("ClosingBooked", "InterimAvailable",
                                                  "InterimBooked"))
    DateTime = F.AwareDateTime(required=True)
    Amount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema, required=True)
    CreditLine = F.List(F.Nested(OBCreditLineSchema))


OBReadBalance1Schema = _envelope("OBReadBalance1Schema",
                                 _data("OBReadBalance1DataSchema", "Balance",
                                       OBCashBalanceSchema))


# --- transactions --------------------------------------------------------------------------
class OBBankTransactionCodeSchema(OBSchema):
    Code = F.String(required=True)
    SubCode = F.String(required=True)


class ProprietaryBankTransactionCodeSchema(OBSchema):
    Code = _text(35, required=True)
    Issuer = _text(35)


class OBTransactionCashBalanceSchema(OBSchema):
    CreditDebitIndicator = F.String(required=True, metadata=_enum("Credit", "Debit"))
    Type = F.String(required=True)
    Amount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema, required=True)


class OBMerchantDetailsSchema(OBSchema):
    MerchantName = _text(350)
    MerchantCategoryCode = F.String(metadata={"minLength": 3, "maxLength": 4})


class OBTransactionCardInstrumentSchema(OBSchema):
    CardSchemeName = F.String(required=True, metadata=_enum(
        "AmericanExpress", "Diners", "Discover", "MasterCard", "VISA"))
    AuthorisationType = F.String(metadata=_enum("ConsumerDevice", "Contactless", "None", "PIN"))
    Name = _text(70)
    Identification = _text(34, description="Masked to its last 4 digits without ReadPAN")


class OBTransaction6Schema(OBSchema):
    AccountId = _text(40, required=True)
    TransactionId = _text(210)
    TransactionReference = _text(210)
    StatementReference = F.List(_text(35))
    CreditDebitIndicator = F.String(required=True, metadata=_enum("Credit", "Debit"))
    Status = F.String(required=True, metadata=_enum("Booked", "Pending", "Rejected"))
    BookingDateTime = F.AwareDateTime(required=True)
    ValueDateTime = F.AwareDateTime()
    TransactionInformation = _text(500, description="Only with ReadTransactionsDetail")
    Amount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema, required=True)
    BankTransactionCode = F.Nested(OBBankTransactionCodeSchema)
    ProprietaryBankTransactionCode = F.Nested(ProprietaryBankTransactionCodeSchema)
    Balance = F.Nested(OBTransactionCashBalanceSchema)
    MerchantDetails = F.Nested(OBMerchantDetailsSchema)
    CreditorAgent = F.Nested(OBBranchAndFinancialInstitutionIdentificationSchema)
    CreditorAccount = F.Nested(OBCashAccountSchema)
    DebtorAgent = F.Nested(OBBranchAndFinancialInstitutionIdentificationSchema)
    DebtorAccount = F.Nested(OBCashAccountSchema)
    CardInstrument = F.Nested(OBTransactionCardInstrumentSchema)


OBReadTransaction6Schema = _envelope(
    "OBReadTransaction6Schema",
    _data("OBReadDataTransaction6Schema", "Transaction", OBTransaction6Schema))


# --- beneficiaries, direct debits, standing orders, scheduled payments ---------------------
class OBBeneficiary5Schema(OBSchema):
    AccountId = _text(40)
    BeneficiaryId = _text(40)
    BeneficiaryType = F.String(metadata=_enum("Trusted", "Ordinary"))
    Reference = _text(35)
    CreditorAgent = F.Nested(OBBranchAndFinancialInstitutionIdentificationSchema)
    CreditorAccount = F.Nested(OBCashAccountSchema)


OBReadBeneficiary5Schema = _envelope(
    "OBReadBeneficiary5Schema",
    _data("OBReadBeneficiary5DataSchema", "Beneficiary", OBBeneficiary5Schema))


class OBDirectDebit2Schema(OBSchema):
    AccountId = _text(40, required=True)
    DirectDebitId = _text(40)
    MandateIdentification = _text(35, required=True)
    DirectDebitStatusCode = F.String(metadata=_enum("Active", "Inactive"))
    Name = _text(70, required=True)
    PreviousPaymentDateTime = F.AwareDateTime()
    Frequency = F.String()
    PreviousPaymentAmount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)


OBReadDirectDebit2Schema = _envelope(
    "OBReadDirectDebit2Schema",
    _data("OBReadDirectDebit2DataSchema", "DirectDebit", OBDirectDebit2Schema))


class OBStandingOrder6Schema(OBSchema):
    AccountId = _text(40, required=True)
    StandingOrderId = _text(40)
    Frequency = F.String(required=True)
    Reference = _text(35)
    FirstPaymentDateTime = F.AwareDateTime()
    NextPaymentDateTime = F.AwareDateTime()
    LastPaymentDateTime = F.AwareDateTime()
    FinalPaymentDateTime = F.AwareDateTime()
    NumberOfPayments = _text(35)
    StandingOrderStatusCode = F.String(metadata=_enum("Active", "Inactive"))
    FirstPaymentAmount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)
    NextPaymentAmount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)
    LastPaymentAmount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)
    FinalPaymentAmount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)
    CreditorAgent = F.Nested(OBBranchAndFinancialInstitutionIdentificationSchema)
    CreditorAccount = F.Nested(OBCashAccountSchema)


OBReadStandingOrder6Schema = _envelope(
    "OBReadStandingOrder6Schema",
    _data("OBReadStandingOrder6DataSchema", "StandingOrder", OBStandingOrder6Schema))


class OBScheduledPayment3Schema(OBSchema):
    AccountId = _text(40, required=True)
    ScheduledPaymentId = _text(40)
    ScheduledPaymentDateTime = F.AwareDateTime(required=True)
    ScheduledType = F.String(required=True, metadata=_enum("Arrival", "Execution"))
    Reference = _text(35)
    DebtorReference = _text(35)
    InstructedAmount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema, required=True)
    CreditorAgent = F.Nested(OBBranchAndFinancialInstitutionIdentificationSchema)
    CreditorAccount = F.Nested(OBCashAccountSchema)


OBReadScheduledPayment3Schema = _envelope(
    "OBReadScheduledPayment3Schema",
    _data("OBReadScheduledPayment3DataSchema", "ScheduledPayment", OBScheduledPayment3Schema))


# --- statements ----------------------------------------------------------------------------
class OBStatementAmountSchema(OBSchema):
    CreditDebitIndicator = F.String(required=True, metadata=_enum("Credit", "Debit"))
    Type = F.String(required=True, metadata={"description": "UK.OBIE.StartingBalance, "
                                             "UK.OBIE.TotalCredits, UK.OBIE.TotalDebits, "
                                             "UK.OBIE.ClosingBalance"})
    Amount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema, required=True)


class OBStatement2Schema(OBSchema):
    AccountId = _text(40, required=True)
    StatementId = _text(40)
    StatementReference = _text(35)
    Type = F.String(required=True, metadata=_enum("AccountClosure", "AccountOpening", "Annual",
                                                  "Interim", "RegularPeriodic"))
    StartDateTime = F.AwareDateTime(required=True)
    EndDateTime = F.AwareDateTime(required=True)
    CreationDateTime = F.AwareDateTime(required=True)
    StatementDescription = F.List(_text(500))
    StatementAmount = F.List(F.Nested(OBStatementAmountSchema), metadata={
        "description": "Only with ReadStatementsDetail"})


OBReadStatement2Schema = _envelope(
    "OBReadStatement2Schema",
    _data("OBReadDataStatement2Schema", "Statement", OBStatement2Schema))


# --- parties, products, offers -------------------------------------------------------------
class OBRelationship1Schema(OBSchema):
    Related = F.String(required=True, metadata={"format": "uri"})
    Id = _text(40, required=True)


class OBPartyRelationships1Schema(OBSchema):
    Account = F.Nested(OBRelationship1Schema)


class OBParty2Schema(OBSchema):
    PartyId = _text(40, required=True)
    PartyNumber = _text(35)
    PartyType = F.String(metadata=_enum("Delegate", "Joint", "Sole"))
    Name = _text(350)
    FullLegalName = _text(350)
    LegalStructure = F.String()
    AccountRole = F.String()
    EmailAddress = _text(256)
    Phone = F.String(metadata={"pattern": r"\+[0-9]{1,3}-[0-9()+\-]{1,30}"})
    Mobile = F.String(metadata={"pattern": r"\+[0-9]{1,3}-[0-9()+\-]{1,30}"})
    Relationships = F.Nested(OBPartyRelationships1Schema)
    Address = F.List(F.Nested(OBPostalAddressSchema))


OBReadParty2Schema = _envelope("OBReadParty2Schema",
                               _data("OBReadDataParty2Schema", "Party", OBParty2Schema,
                                     many=False))
OBReadParty3Schema = _envelope("OBReadParty3Schema",
                               _data("OBReadDataParty3Schema", "Party", OBParty2Schema))


class OBOtherProductTypeSchema(OBSchema):
    Name = _text(350, required=True)
    Description = _text(350, required=True)


class OBProduct2Schema(OBSchema):
    ProductName = _text(350)
    ProductId = _text(40)
    AccountId = _text(40, required=True)
    ProductType = F.String(required=True, metadata=_enum(
        "BusinessCurrentAccount", "CommercialCreditCard", "Other", "PersonalCurrentAccount",
        "SMELoan"))
    MarketingStateId = _text(35)
    OtherProductType = F.Nested(OBOtherProductTypeSchema)


OBReadProduct2Schema = _envelope("OBReadProduct2Schema",
                                 _data("OBReadProduct2DataSchema", "Product",
                                       OBProduct2Schema))


class OBOffer1Schema(OBSchema):
    AccountId = _text(40, required=True)
    OfferId = _text(40)
    OfferType = F.String(metadata=_enum("BalanceTransfer", "LimitIncrease", "MoneyTransfer",
                                        "Other", "PromotionalRate"))
    Description = _text(500)
    StartDateTime = F.AwareDateTime()
    EndDateTime = F.AwareDateTime()
    Rate = F.String(metadata={"pattern": r"^(-?\d{1,3}){1}(\.\d{1,4}){0,1}$"})
    Value = F.Integer()
    Term = _text(500)
    URL = _text(256)
    Amount = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)
    Fee = F.Nested(OBActiveOrHistoricCurrencyAndAmountSchema)


OBReadOffer1Schema = _envelope("OBReadOffer1Schema",
                               _data("OBReadOffer1DataSchema", "Offer", OBOffer1Schema))
