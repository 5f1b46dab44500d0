"""Database engine, declarative base and the unit of work.

The unit of work owns the transaction: it rolls back unless told to commit, repositories
never commit, and side effects registered with `on_commit` run only after a commit.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
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
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30,
                                                             "check_same_thread": False},
                               **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, echo=echo, **kwargs)


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
