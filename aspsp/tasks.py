"""Celery, bound to the Flask app by the factory; every task runs inside an app context."""
from __future__ import annotations

from datetime import timedelta

from celery import Celery, Task, signals
from flask import Flask
from kombu.transport import redis as kombu_redis

from . import logs

# Celery configures no logging of its own when setup_logging has a receiver: the worker's and
# beat's lines are the platform's JSON lines (aspsp.logs), with each task's interaction id.
signals.setup_logging.connect(logs.celery_logging, weak=False)


def _transport_options(config) -> dict:
    """Redis: a task taken by a worker that died comes back after CELERY_VISIBILITY_TIMEOUT
    seconds (kombu's default is an hour), then runs again (tasks are idempotent, acks_late);
    every worker looks for such tasks every 10 s (kombu's default: every 100 s). The embedded
    default's SQLite broker has no such options (kombu hands them to create_engine, which
    refuses them) and no visibility timeout to set."""
    if not config["CELERY_BROKER_URL"].startswith(("redis://", "rediss://")):
        return {}
    return {"visibility_timeout": config["CELERY_VISIBILITY_TIMEOUT"],
            "unacked_restore_interval": 10, "unacked_restore_throttle": 1}


class _RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, except that it gives up restoring its unacknowledged messages
    when its connection has already been torn down. A worker whose broker goes away (a Redis
    restart) with a task in hand closes its connection twice (Celery 5.7's
    on_connection_error_after_connected: collect(), then close()); the second close tried to
    restore the unacked messages through a connection whose client was gone, raised
    AttributeError, and the worker died ("Unrecoverable error"): no more tasks until someone
    restarted it (tests/prod/test_faults.py). Those messages stay in Redis's unacked set and
    come back after CELERY_VISIBILITY_TIMEOUT, like those of a worker that was killed."""

    @property
    def do_restore(self) -> bool:
        transport = self.connection
        return transport is not None and getattr(transport, "client", None) is not None


class RedisTransport(kombu_redis.Transport):
    Channel = _RedisChannel


# The message header that carries the interaction id of the request that sent a task.
INTERACTION_HEADER = "x_fapi_interaction_id"


def _sent_interaction_id(request) -> str | None:
    """The id a task's message carries: Celery puts a custom header on the task's request,
    or (an eager run) in its `headers`."""
    return getattr(request, INTERACTION_HEADER, None) \
        or (getattr(request, "headers", None) or {}).get(INTERACTION_HEADER)


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def apply_async(self, args=None, kwargs=None, task_id=None, producer=None,
                        link=None, link_error=None, shadow=None, **options):
            """Sent while a request (or a task) is served: its interaction id goes along."""
            interaction_id = logs.current_interaction_id()
            if interaction_id:
                options["headers"] = {INTERACTION_HEADER: interaction_id,
                                      **(options.get("headers") or {})}
            return super().apply_async(args, kwargs, task_id, producer, link, link_error,
                                       shadow, **options)

        def __call__(self, *args, **kwargs):
            with app.app_context():
                tokens = logs.bind(_sent_interaction_id(self.request)
                                   or logs.current_interaction_id(),
                                   {"task": self.name, "task_id": self.request.id})
                try:
                    return self.run(*args, **kwargs)
                finally:
                    logs.unbind(tokens)

    config = app.config
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=config["CELERY_BROKER_URL"],
        result_backend=None,
        task_ignore_result=True,
        task_always_eager=config["CELERY_ALWAYS_EAGER"],
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(config),
        # A plain Redis broker through RedisTransport: a worker survives the broker's restart
        # (rediss:// keeps kombu's own: its scheme is what turns TLS on).
        broker_transport=("aspsp.tasks:RedisTransport"
                          if config["CELERY_BROKER_URL"].startswith("redis://") else None),
        timezone="UTC",
        beat_schedule={
            "settle-stuck-payments": {
                "task": "ledger.settle_stuck_payments",
                "schedule": timedelta(minutes=1),
            },
            "execute-stuck-payment-orders": {   # PIS orders whose execution message was lost
                "task": "pis.execute_stuck_orders",
                "schedule": timedelta(minutes=1),
            },
            "reconcile-balances": {
                "task": "ledger.reconcile_balances",
                "schedule": timedelta(hours=1),
            },
            "run-schedules": {   # scheduled payments and standing orders due (idempotent)
                "task": "ledger.run_schedules",
                "schedule": timedelta(minutes=1),
            },
            "expire-consents": {   # expiries recorded (and announced to TPPs) on time
                "task": "consent.expire_due",
                "schedule": timedelta(minutes=1),
            },
            "reject-overdue-consents": {   # not authorised within CONSENT_AUTHORISATION_WINDOW
                "task": "consent.reject_overdue",
                "schedule": timedelta(minutes=1),
            },
            "sweep-customer-sessions": {
                "task": "identity.sweep_sessions",
                "schedule": timedelta(minutes=15),
            },
            "deliver-due-events": {   # event retries, and events a dead worker held
                "task": "events.deliver_due",
                "schedule": timedelta(seconds=15),
            },
            "sweep-idempotency-keys": {
                "task": "ob.sweep_idempotency_keys",
                "schedule": timedelta(hours=1),
            },
            "sweep-request-log": {   # calls older than REQUEST_LOG_RETENTION_DAYS
                "task": "request_log.sweep",
                "schedule": timedelta(hours=1),
            },
        },
    )
    from . import idempotency  # noqa: F401  (registers ob.sweep_idempotency_keys)
    from . import request_log  # noqa: F401  (registers request_log.sweep)
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
