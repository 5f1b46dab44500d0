"""Request and response schemas of the events API (OpenAPI component names as OBIE's)."""
from __future__ import annotations

import marshmallow as ma

from aspsp import obapi
from aspsp.obapi import OBSchema

from . import domain

_TYPES_DOC = {"description": "Event types (OBEventType1Code)", "enum": list(domain.EVENT_TYPES)}


class OBEventSubscriptionData1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    CallbackUrl = ma.fields.String(validate=ma.validate.Length(min=1))
    Version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=10))
    EventTypes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=128),
                                                 metadata=_TYPES_DOC))


class OBEventSubscription1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    Data = ma.fields.Nested(OBEventSubscriptionData1Schema, required=True)


class OBEventSubscriptionResponseData1Schema(OBSchema):
    EventSubscriptionId = ma.fields.String(required=True)
    CallbackUrl = ma.fields.String()
    Version = ma.fields.String(required=True)
    EventTypes = ma.fields.List(ma.fields.String(metadata=_TYPES_DOC))


class OBEventSubscriptionResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBEventSubscriptionResponseData1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema)
    Meta = ma.fields.Nested(obapi.MetaSchema)


class OBEventSubscriptionsResponseData1Schema(OBSchema):
    EventSubscription = ma.fields.List(ma.fields.Nested(OBEventSubscriptionResponseData1Schema))


class OBEventSubscriptionsResponse1Schema(OBSchema):
    Data = ma.fields.Nested(OBEventSubscriptionsResponseData1Schema, required=True)
    Links = ma.fields.Nested(obapi.LinksSchema)
    Meta = ma.fields.Nested(obapi.MetaSchema)


class SetErrorSchema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    err = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=256))


class OBEventPolling1Schema(OBSchema):
    class Meta:
        unknown = ma.RAISE

    maxEvents = ma.fields.Integer(strict=True)
    returnImmediately = ma.fields.Boolean(truthy={True}, falsy={False})
    ack = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=128)))
    setErrs = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=128)),
                             values=ma.fields.Nested(SetErrorSchema))


class OBEventPollingResponse1Schema(OBSchema):
    moreAvailable = ma.fields.Boolean(required=True)
    sets = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
