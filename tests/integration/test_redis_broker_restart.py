"""A Celery worker survives its Redis broker's restart with a task in hand (issue 14's fault
tests found it dying). On a connection error Celery 5.7's consumer collects the connection,
then closes it; kombu's Redis channel then restored the unacknowledged messages through a
transport whose client collect() had removed: AttributeError, which Celery does not ignore
("Unrecoverable error", the worker exits). aspsp.tasks.RedisTransport leaves those messages in
Redis's unacked set, where the visibility timeout hands them back. The crash itself is
reproduced by tests/prod/test_faults.py (a real worker, a real Redis restart); here, on a
redis-server of the test's own (deploy/prod_local.PrivateRedis) stopped for real, that the
transport closes a connection lost with a message in hand without raising, and that the
message is not lost."""
from __future__ import annotations

import time

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.common import ignore_errors

from aspsp.tasks import RedisTransport
from bank import create_app
from deploy.prod_local import PrivateRedis, TopologyError
from tests.conftest import service_missing


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis")
    try:
        server.start()
    except (OSError, TopologyError) as error:
        service_missing("redis-server", error)
    yield server
    server.stop()


def lose_the_broker_with_a_message_in_hand(transport, server: PrivateRedis) -> Connection:
    """A message taken and not acknowledged, the server stopped, then what Celery's
    consumer does on the connection error (collect, then close, ignoring broker errors)."""
    connection = Connection(server.url(0), transport=transport,
                            transport_options={"visibility_timeout": 1})
    channel = connection.default_channel
    # A worker also listens on a fanout queue deleted when it closes (its remote-control
    # mailbox): deleting it fails while the server is down, so the first close stops there.
    broadcast = Queue("mailbox", Exchange("mailbox", type="fanout"), auto_delete=True)
    Consumer(channel, [broadcast], callbacks=[lambda *_: None]).consume()
    work = Queue("work", Exchange("work"), routing_key="work")
    Producer(channel).publish({"task": 1}, exchange=work.exchange, routing_key="work",
                              declare=[work])
    taken = []
    Consumer(channel, [work], callbacks=[lambda body, message: taken.append(message)]).consume()
    connection.drain_events(timeout=5)      # delivered, not acknowledged
    assert [m.payload for m in taken] == [{"task": 1}]
    server.stop()
    try:
        connection.collect(socket_timeout=1)
    except Exception:  # noqa: BLE001 (Celery ignores every error of collect())
        pass
    ignore_errors(connection, connection.close)
    return connection


def test_the_platforms_redis_transport_closes_and_the_message_comes_back(private_redis):
    lose_the_broker_with_a_message_in_hand(RedisTransport, private_redis)
    private_redis.start()
    time.sleep(1.5)                         # past the visibility timeout
    with Connection(private_redis.url(0), transport=RedisTransport,
                    transport_options={"visibility_timeout": 1}) as connection:
        channel = connection.default_channel
        channel.qos.restore_visible()
        message = connection.SimpleQueue("work").get(timeout=5)
        assert message.payload == {"task": 1}
        message.ack()


def test_a_plain_redis_broker_gets_the_platforms_transport(tmp_path):
    def transport(url):
        return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'bank.sqlite'}",
                           "SECRET_KEY": "test", "CELERY_BROKER_URL": url}
                          ).extensions["celery"].conf.broker_transport
    assert transport("redis://127.0.0.1:6379/7") == "aspsp.tasks:RedisTransport"
    assert transport("rediss://127.0.0.1:6380/7?ssl_cert_reqs=required") is None
