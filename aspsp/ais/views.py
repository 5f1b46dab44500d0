"""Account and Transaction API v3.1.11: every resource behind an account-access consent,
under /open-banking/v3.1/aisp (the consent resources themselves are consent.api).

Each view is the same three steps: the query parameters through a schema, one service call,
the result through the response schema. Before a view runs, `consented` has passed the
consent gate for the endpoint's permission (consent.permissions.ENDPOINTS), told an unknown
AccountId (400 UK.OBIE.Resource.NotFound) from one the customer did not select (403), and
counted the request against the customer-not-present limit (aspsp.ais.access_limit).
"""
from __future__ import annotations

import functools
from typing import Callable

import marshmallow as ma
from flask import Flask, current_app, request

from aspsp import ob_signing, obapi, platform
from aspsp.obapi import ASPSP_NAMESPACE, ErrorCode, ErrorItem, OBError
from consent import gate
from consent import permissions as perms

from . import encoding, paging, services
from .access_limit import UnattendedLimit, counter_from_config
from .errors import AisError, InvalidPageCursor, OutsideTransactionPeriod, ResourceNotFound
from .filters import naive_text
from .schemas import (NoQuerySchema, OBReadAccount6Schema, OBReadBalance1Schema,
                      OBReadBeneficiary5Schema, OBReadDirectDebit2Schema, OBReadOffer1Schema,
                      OBReadParty2Schema, OBReadParty3Schema, OBReadProduct2Schema,
                      OBReadScheduledPayment3Schema, OBReadStandingOrder6Schema,
                      OBReadStatement2Schema, OBReadTransaction6Schema, PageQuerySchema,
                      StatementsQuerySchema, TransactionsQuerySchema)

SCOPE = "accounts"
PREFIX = "/open-banking/v3.1/aisp"
EXTENSION = "ais"
PDF = "application/pdf"
CUSTOMER_NOT_PRESENT_LIMIT = f"{ASPSP_NAMESPACE}.Request.CustomerNotPresentLimit"
OUTSIDE_TRANSACTION_PERIOD = f"{ASPSP_NAMESPACE}.Consent.OutsideTransactionPeriod"
ERRORS = (400, 401, 403, 405, 406, 429, 500)


def init_app(app: Flask) -> None:
    paging.check_page_size(app.config["AIS_PAGE_SIZE"])
    per_day = int(app.config["AIS_UNATTENDED_DAILY_LIMIT"])
    if per_day < 1:
        raise ValueError("AIS_UNATTENDED_DAILY_LIMIT must be at least 1")
    app.extensions[EXTENSION] = UnattendedLimit(per_day, counter_from_config(app.config))
    obapi.register_blueprint(app, _blueprint())


# --- what every view passes first ----------------------------------------------------------
def consented(endpoint: str) -> Callable:
    """The gate for `endpoint` (an OBIE path template), then the unattended-request count."""
    needed = perms.required_for(endpoint)

    def decorate(view):
        @functools.wraps(view)
        def counted(*args, **kwargs):
            _count_if_unattended()
            return view(*args, **kwargs)

        gated = gate.requires_consent(SCOPE, needed)(counted)

        @functools.wraps(gated)
        def guarded(*args, **kwargs):
            try:
                return gated(*args, **kwargs)
            except OBError as error:
                account_id = kwargs.get("AccountId")
                if account_id is not None and _account_refused(error) \
                        and not services.is_known_account(platform.current(), account_id):
                    raise obapi.bad_request(ErrorCode.NOT_FOUND,
                                            "there is no account with this AccountId",
                                            "AccountId") from None
                raise
        return guarded
    return decorate


def _account_refused(error: OBError) -> bool:
    return error.status == 403 and any(e.code == ErrorCode.ACCOUNT_NOT_PERMITTED
                                       for e in error.errors)


def _count_if_unattended() -> None:
    ctx = gate.current_consent()
    if ctx.customer_present:
        return
    limit: UnattendedLimit = current_app.extensions[EXTENSION]
    wait = limit.retry_after(ctx.consent_id, request.path, platform.current().clock.now())
    if wait is not None:
        raise OBError(429, ErrorItem(
            CUSTOMER_NOT_PRESENT_LIMIT,
            f"at most {limit.per_day} requests a day to this resource without the customer "
            "present (x-fapi-customer-ip-address); try again after Retry-After seconds"),
            headers={"Retry-After": str(wait)})


# --- responses -----------------------------------------------------------------------------
def _base_url() -> str:
    return current_app.config["ISSUER"].rstrip("/") + request.path


def _account_url(account_id: str) -> str:
    return f"{current_app.config['ISSUER'].rstrip('/')}{PREFIX}/accounts/{account_id}"


def _body(key: str, items, *, filters: dict[str, str] | None = None) -> dict:
    page = paging.Page(items=[], total_pages=1, filters=filters or {})
    return {"Data": {key: items} if items is not None else {},
            "Links": {"Self": paging.links(_base_url(), page)["Self"]},
            "Meta": {"TotalPages": 1}}


def _paged(page: paging.Page):
    """A page of transactions, encoded directly (aspsp.ais.encoding): what the response
    schema would dump, without dumping hundreds of nested objects through it."""
    return encoding.json_response(paged_body(page, _base_url()))


def paged_body(page: paging.Page, base_url: str) -> dict:
    return {"Data": {"Transaction": page.items}, "Links": paging.links(base_url, page),
            "Meta": paging.meta(page)}


def _filters(query: dict, *names: str) -> dict[str, str]:
    return {name: naive_text(query[name]) for name in names if query.get(name) is not None}


def _ais_error(error: AisError):
    if isinstance(error, ResourceNotFound):
        return obapi.render(obapi.bad_request(ErrorCode.NOT_FOUND, error.message, error.path))
    if isinstance(error, OutsideTransactionPeriod):
        return obapi.render(obapi.forbidden(OUTSIDE_TRANSACTION_PERIOD, error.message,
                                            error.path))
    if isinstance(error, InvalidPageCursor):
        return obapi.render(obapi.bad_request(ErrorCode.FIELD_INVALID, error.message,
                                              error.path))
    return obapi.render(obapi.unexpected())


# --- the resources -------------------------------------------------------------------------
def _blueprint() -> obapi.Blueprint:
    """A new blueprint per app (create_app runs once per test)."""
    blp = obapi.Blueprint("Account Information", __name__, url_prefix=PREFIX,
                          description="Account and Transaction API (OBIE Read/Write API "
                                      "v3.1.11): what an authorised account-access consent "
                                      "lets its TPP read")
    blp.register_error_handler(AisError, _ais_error)
    ob_signing.refuse_unexpected_signatures(blp)   # a GET has no payload to sign: 400
    security = [{"PSUOAuth2Security": [SCOPE]}]

    def operation(operation_id: str, endpoint: str, query_schema, *extra_errors: int,
                  summary: str | None = None) -> Callable:
        """The query parameters (any other is refused) and the OpenAPI of an operation: its
        id, security, headers, query parameters, the permission it needs, its errors."""
        needed = " or ".join(perms.required_for(endpoint))
        parameters = list(obapi.FAPI_HEADERS) + _query_parameters(query_schema)

        def decorate(view):
            view = obapi.documented_errors(blp, *sorted(set(ERRORS) | set(extra_errors)))(view)
            view = blp.arguments(query_schema, location="query", unknown=ma.RAISE,
                                 error_status_code=400)(view)
            extra = {"summary": summary} if summary else {}
            return blp.doc(operationId=operation_id, security=security, parameters=parameters,
                           description=f"Needs the permission {needed}.", **extra)(view)
        return decorate

    def listing(bulk_path: str, one_path: str, bulk_operation: str, one_operation: str,
                schema, key: str, read: Callable, summary: str) -> None:
        """A list resource of every account shared, and the same of one account."""
        @blp.route(bulk_path, methods=["GET"], endpoint=bulk_operation)
        @consented(bulk_path)
        @operation(bulk_operation, bulk_path, NoQuerySchema, 404,
                   summary=f"{summary} of every account shared")
        @blp.response(200, schema)
        def bulk(_query):
            return _body(key, read(platform.current(), gate.current_consent()))

        @blp.route(one_path.replace("{AccountId}", "<AccountId>"), methods=["GET"],
                   endpoint=one_operation)
        @consented(one_path)
        @operation(one_operation, one_path, NoQuerySchema, 404,
                   summary=f"{summary} of one account")
        @blp.response(200, schema)
        def one(_query, AccountId: str):  # noqa: N803 (the OBIE path name)
            return _body(key, read(platform.current(), gate.current_consent(), AccountId))

    # accounts --------------------------------------------------------------------------
    @blp.route("/accounts", methods=["GET"], endpoint="GetAccounts")
    @consented("/accounts")
    @operation("GetAccounts", "/accounts", NoQuerySchema)
    @blp.response(200, OBReadAccount6Schema)
    def get_accounts(_query):
        """The accounts the customer shared (identification with ReadAccountsDetail)"""
        return _body("Account", services.accounts(platform.current(), gate.current_consent()))

    @blp.route("/accounts/<AccountId>", methods=["GET"], endpoint="GetAccountsAccountId")
    @consented("/accounts/{AccountId}")
    @operation("GetAccountsAccountId", "/accounts/{AccountId}", NoQuerySchema)
    @blp.response(200, OBReadAccount6Schema)
    def get_account(_query, AccountId: str):  # noqa: N803
        """One account"""
        return _body("Account", services.accounts(platform.current(), gate.current_consent(),
                                                  AccountId))

    for bulk_path, one_path, bulk_operation, one_operation, schema, key, read, summary in (
            ("/balances", "/accounts/{AccountId}/balances", "GetBalances",
             "GetAccountsAccountIdBalances", OBReadBalance1Schema, "Balance", services.balances,
             "The balances (InterimAvailable, InterimBooked, ClosingBooked)"),
            ("/beneficiaries", "/accounts/{AccountId}/beneficiaries", "GetBeneficiaries",
             "GetAccountsAccountIdBeneficiaries", OBReadBeneficiary5Schema, "Beneficiary",
             services.beneficiaries, "The payees set up"),
            ("/direct-debits", "/accounts/{AccountId}/direct-debits", "GetDirectDebits",
             "GetAccountsAccountIdDirectDebits", OBReadDirectDebit2Schema, "DirectDebit",
             services.direct_debits, "The Direct Debit mandates"),
            ("/standing-orders", "/accounts/{AccountId}/standing-orders", "GetStandingOrders",
             "GetAccountsAccountIdStandingOrders", OBReadStandingOrder6Schema, "StandingOrder",
             services.standing_orders, "The standing orders"),
            ("/scheduled-payments", "/accounts/{AccountId}/scheduled-payments",
             "GetScheduledPayments", "GetAccountsAccountIdScheduledPayments",
             OBReadScheduledPayment3Schema, "ScheduledPayment", services.scheduled_payments,
             "The future-dated payments"),
            ("/offers", "/accounts/{AccountId}/offers", "GetOffers", "GetAccountsAccountIdOffers",
             OBReadOffer1Schema, "Offer", services.offers, "The offers"),
            ("/products", "/accounts/{AccountId}/product", "GetProducts",
             "GetAccountsAccountIdProduct", OBReadProduct2Schema, "Product", services.products,
             "The products")):
        listing(bulk_path, one_path, bulk_operation, one_operation, schema, key, read,
                summary)

    # transactions ----------------------------------------------------------------------
    @blp.route("/transactions", methods=["GET"], endpoint="GetTransactions")
    @consented("/transactions")
    @operation("GetTransactions", "/transactions", TransactionsQuerySchema, 404)
    @blp.response(200, OBReadTransaction6Schema)
    def get_transactions(args):
        """The transactions of every account shared, newest first, one page at a time"""
        return _paged(services.transactions(platform.current(), gate.current_consent(),
                                            _transaction_query(args)))

    @blp.route("/accounts/<AccountId>/transactions", methods=["GET"],
               endpoint="GetAccountsAccountIdTransactions")
    @consented("/accounts/{AccountId}/transactions")
    @operation("GetAccountsAccountIdTransactions", "/accounts/{AccountId}/transactions",
               TransactionsQuerySchema)
    @blp.response(200, OBReadTransaction6Schema)
    def get_account_transactions(args, AccountId: str):  # noqa: N803
        """The transactions of one account, newest first, one page at a time"""
        return _paged(services.transactions(platform.current(), gate.current_consent(),
                                            _transaction_query(args, AccountId)))

    # parties ---------------------------------------------------------------------------
    @blp.route("/party", methods=["GET"], endpoint="GetParty")
    @consented("/party")
    @operation("GetParty", "/party", NoQuerySchema, 404)
    @blp.response(200, OBReadParty2Schema)
    def get_party(_query):
        """The customer who authorised the consent"""
        return _body("Party", services.customer_party(platform.current(),
                                                      gate.current_consent()))

    @blp.route("/accounts/<AccountId>/party", methods=["GET"],
               endpoint="GetAccountsAccountIdParty")
    @consented("/accounts/{AccountId}/party")
    @operation("GetAccountsAccountIdParty", "/accounts/{AccountId}/party", NoQuerySchema, 404)
    @blp.response(200, OBReadParty2Schema)
    def get_account_party(_query, AccountId: str):  # noqa: N803
        """The account's owner"""
        return _body("Party", services.account_party(platform.current(),
                                                     gate.current_consent(), AccountId,
                                                     _account_url))

    @blp.route("/accounts/<AccountId>/parties", methods=["GET"],
               endpoint="GetAccountsAccountIdParties")
    @consented("/accounts/{AccountId}/parties")
    @operation("GetAccountsAccountIdParties", "/accounts/{AccountId}/parties", NoQuerySchema,
               404)
    @blp.response(200, OBReadParty3Schema)
    def get_account_parties(_query, AccountId: str):  # noqa: N803
        """Every holder and operator of the account"""
        return _body("Party", services.account_parties(platform.current(),
                                                       gate.current_consent(), AccountId,
                                                       _account_url))

    # statements ------------------------------------------------------------------------
    @blp.route("/statements", methods=["GET"], endpoint="GetStatements")
    @consented("/statements")
    @operation("GetStatements", "/statements", StatementsQuerySchema, 404)
    @blp.response(200, OBReadStatement2Schema)
    def get_statements(args):
        """The statements of every account shared (wholly inside the consent's period)"""
        return _body("Statement", services.statements(
            platform.current(), gate.current_consent(),
            from_start=args.get("fromStatementDateTime"),
            to_end=args.get("toStatementDateTime")),
            filters=_filters(args, "fromStatementDateTime", "toStatementDateTime"))

    @blp.route("/accounts/<AccountId>/statements", methods=["GET"],
               endpoint="GetAccountsAccountIdStatements")
    @consented("/accounts/{AccountId}/statements")
    @operation("GetAccountsAccountIdStatements", "/accounts/{AccountId}/statements",
               StatementsQuerySchema, 404)
    @blp.response(200, OBReadStatement2Schema)
    def get_account_statements(args, AccountId: str):  # noqa: N803
        """The statements of one account"""
        return _body("Statement", services.statements(
            platform.current(), gate.current_consent(), AccountId,
            from_start=args.get("fromStatementDateTime"),
            to_end=args.get("toStatementDateTime")),
            filters=_filters(args, "fromStatementDateTime", "toStatementDateTime"))

    @blp.route("/accounts/<AccountId>/statements/<StatementId>", methods=["GET"],
               endpoint="GetAccountsAccountIdStatementsStatementId")
    @consented("/accounts/{AccountId}/statements/{StatementId}")
    @operation("GetAccountsAccountIdStatementsStatementId",
               "/accounts/{AccountId}/statements/{StatementId}", NoQuerySchema, 404)
    @blp.response(200, OBReadStatement2Schema)
    def get_statement(_query, AccountId: str, StatementId: str):  # noqa: N803
        """One statement"""
        return _body("Statement", services.statement(platform.current(),
                                                     gate.current_consent(), AccountId,
                                                     StatementId))

    @blp.route("/accounts/<AccountId>/statements/<StatementId>/file", methods=["GET"],
               endpoint="GetAccountsAccountIdStatementsStatementIdFile")
    @consented("/accounts/{AccountId}/statements/{StatementId}/file")
    @operation("GetAccountsAccountIdStatementsStatementIdFile",
               "/accounts/{AccountId}/statements/{StatementId}/file", NoQuerySchema, 404)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=PDF,
                  description="The statement as a PDF document")
    @obapi.produces(PDF)
    def get_statement_file(_query, AccountId: str, StatementId: str):  # noqa: N803
        """The statement as a PDF (needs ReadStatementsDetail)"""
        found = services.statement_file(platform.current(), gate.current_consent(),
                                        AccountId, StatementId)
        response = current_app.response_class(found.content, mimetype=found.media_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
        return response

    @blp.route("/accounts/<AccountId>/statements/<StatementId>/transactions", methods=["GET"],
               endpoint="GetAccountsAccountIdStatementsStatementIdTransactions")
    @consented("/accounts/{AccountId}/statements/{StatementId}/transactions")
    @operation("GetAccountsAccountIdStatementsStatementIdTransactions",
               "/accounts/{AccountId}/statements/{StatementId}/transactions", PageQuerySchema,
               404)
    @blp.response(200, OBReadTransaction6Schema)
    def get_statement_transactions(args, AccountId: str, StatementId: str):  # noqa: N803
        """The booked transactions of one statement's period, one page at a time"""
        return _paged(services.statement_transactions(
            platform.current(), gate.current_consent(), AccountId, StatementId,
            args.get("page")))

    return blp


def _query_parameters(schema) -> list[dict]:
    """The query parameters of a schema as OpenAPI parameter objects."""
    parameters = []
    for name, field in schema().fields.items():
        kind = {"type": "string", "format": "date-time"} \
            if isinstance(field, ma.fields.DateTime) else {"type": "string"}
        parameters.append({"in": "query", "name": field.data_key or name, "required": False,
                           "description": field.metadata.get("description", ""),
                           "schema": kind})
    return parameters


def _transaction_query(args: dict, account_id: str | None = None
                       ) -> services.TransactionQuery:
    return services.TransactionQuery(account_id=account_id,
                                     from_booking=args.get("fromBookingDateTime"),
                                     to_booking=args.get("toBookingDateTime"),
                                     page=args.get("page"))

