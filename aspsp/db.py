"""Database engine, declarative base and the unit of work.

The unit of work owns the transaction: it rolls back unless told to commit, repositories
never commit, and side effects registered with `on_commit` run only after a commit.
"""
from __future__ import annotations

import logging
import select
from typing import Callable

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, echo: bool = False, **kwargs) -> Engine:
    # No bound parameter in a log line or an error message: they hold account numbers, token
    # hashes, sealed secrets (SQL_ECHO logs the statements alone; aspsp/logs.py).
    kwargs.setdefault("hide_parameters", True)
    if echo:     # SQL_ECHO: the statements through the JSON log lines, not echo's own stdout
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
        echo = False
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30,
                                                             "check_same_thread": False},
                               **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_engine(url, echo=echo, **kwargs)
    _discard_dropped_connections(engine)
    return engine


# A pooled connection older than this is closed and replaced at its next checkout: firewalls
# and proxies drop idle TCP connections silently (no FIN), which no local check can see.
POOL_RECYCLE_SECONDS = 1800


def _discard_dropped_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per checkout (pool_pre_ping sent
    a `SELECT 1` before every unit of work: 9% of a token request's time, issue 8).

    An idle connection in the pool has nothing to read: PostgreSQL only writes to it in
    answer to a query (we LISTEN for nothing). When the server ends the backend (a restart,
    pg_terminate_backend, an idle timeout) it sends its FATAL message and closes the socket,
    which makes the socket readable. So at checkout a non-blocking poll of the socket (one
    system call) tells a dropped connection, and raising DisconnectionError makes the pool
    discard it and check out another (or connect afresh), before any statement is sent."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, _record, _proxy):
        if getattr(dbapi_connection, "closed", 0) or _readable(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")


def _readable(dbapi_connection) -> bool:
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # the driver already knows it is closed
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _serialise_sqlite_writers(engine: Engine) -> None:
    """SQLite has no row locks: every transaction takes the write lock when it begins
    (BEGIN IMMEDIATE), so a funds check and its debit can never interleave with another."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class UnitOfWork:
    """`with db.uow() as uow: ...; uow.commit()` — one transaction, one commit."""

    def __init__(self, session_factory: Callable[[], Session]):
        self._session_factory = session_factory
        self._after_commit: list[Callable[[], None]] = []
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._after_commit = []
        return self

    def __exit__(self, *exc) -> None:
        assert self.session is not None
        self.session.rollback()
        self.session.close()
        self.session = None

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()
        self._after_commit = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` after the next successful commit (e.g. send a Celery task)."""
        self._after_commit.append(callback)

    def savepoint(self) -> "Savepoint":
        """A SAVEPOINT of this unit of work (`commit()`/`rollback()`, or `with`: rolled back
        when the block raises): its rollback also drops the after-commit callbacks registered
        since it began, so that no task is sent for work that was rolled back (a settlement
        for a payment that no longer exists)."""
        assert self.session is not None
        return Savepoint(self)


class Savepoint:
    def __init__(self, uow: UnitOfWork):
        self._uow, self._mark = uow, len(uow._after_commit)
        self._nested = uow.session.begin_nested()

    def commit(self) -> None:
        self._nested.commit()

    def rollback(self) -> None:
        self._nested.rollback()
        del self._uow._after_commit[self._mark:]

    def __enter__(self) -> "Savepoint":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


class Database:
    def __init__(self, url: str, echo: bool = False, engine: Engine | None = None,
                 session_factory: Callable[[], Session] | None = None):
        self.url = url
        self.engine = engine or make_engine(url, echo=echo)
        self.session_factory = session_factory or sessionmaker(bind=self.engine,
                                                               expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"
