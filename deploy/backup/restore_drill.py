"""The restore drill: prove that a backup of the bank's database restores into a working bank.

    python deploy/backup/restore_drill.py SOURCE_DATABASE_URL [--dump FILE] [--keep]
    deploy/backup/restore-drill.sh SOURCE_DATABASE_URL ...        (the same, from .venv)

1. Dump: `pg_dump --format=custom` of the source, taken inside one REPEATABLE READ read-only
   transaction whose snapshot is exported to pg_dump (`--snapshot`), and the row count of every
   table read in that same snapshot: a live bank may keep writing, the counts still describe
   exactly what the dump holds. With `--dump FILE` an existing backup (deploy/backup/backup.sh)
   is restored instead, and the source's counts are read now: only meaningful when the source
   has not changed since that dump (a quiesced copy, a test); otherwise use `--no-compare`.
2. Restore into a fresh database `<source>_drill_<UTC time>` on the same server (or on
   `--target-server`): `pg_restore --exit-on-error --no-owner --no-acl`.
3. Compare: the same tables, and the same number of rows in every one of them.
4. Check the restored bank with the platform's own commands, run against the restored copy
   (DATABASE_URL set to it, the rest of the environment as given: KEY_ENCRYPTION_KEY,
   REDIS_URL, SANDBOX_ENABLED...):
   - `flask ledger reconcile`: every cached balance equals its postings, every entry balances;
   - `flask audit verify`: the audit trail's hash chain is whole. Run when the platform has
     the `audit` command group; `--require-audit` makes its absence a failure.
5. Drop the restored database (`--keep` leaves it for inspection) and exit 0 only when every
   step passed; any failure, difference or problem exits 1 and says what it was.

Needs pg_dump and pg_restore of the server's major version or newer (`--pg-bin`, default
/usr/bin), the CREATEDB privilege for the role of the URL, and this repository (the flask
commands run from it with the interpreter that runs this script).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

REPOSITORY = Path(__file__).resolve().parents[2]
NO_SUCH_COMMAND = "No such command"


@dataclass
class Drill:
    failures: list[str] = field(default_factory=list)

    def ok(self, step: str, detail: str = "") -> None:
        print(f"ok    {step}" + (f": {detail}" if detail else ""), flush=True)

    def fail(self, step: str, detail: str) -> None:
        self.failures.append(f"{step}: {detail}")
        print(f"FAIL  {step}: {detail}", flush=True)


def libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(url) -> str:
    return url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


TABLES = """SELECT table_schema, table_name FROM information_schema.tables
            WHERE table_type = 'BASE TABLE'
              AND table_schema NOT IN ('pg_catalog', 'information_schema')
              AND table_schema NOT LIKE 'pg\\_%'
            ORDER BY 1, 2"""


def row_counts(cursor) -> dict[str, int]:
    cursor.execute(TABLES)
    counts = {}
    for schema, table in cursor.fetchall():
        cursor.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)))
        counts[f"{schema}.{table}"] = cursor.fetchone()[0]
    return counts


def run(args: list[str], *, env: dict | None = None, timeout: int = 3600
        ) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=REPOSITORY)


def dump_at_snapshot(source, dump: Path, pg_bin: Path) -> dict[str, int]:
    """pg_dump of the source in the snapshot the counts are read in."""
    connection = psycopg2.connect(libpq_url(source))
    try:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = row_counts(cursor)
            done = run([str(pg_bin / "pg_dump"), "--format=custom", "--no-password",
                        f"--snapshot={snapshot}", f"--file={dump}", libpq_url(source)])
            if done.returncode != 0:
                raise DrillError(f"pg_dump failed: {done.stderr.strip()}")
        connection.rollback()
    finally:
        connection.close()
    return counts


def counts_of(url) -> dict[str, int]:
    connection = psycopg2.connect(libpq_url(url))
    try:
        with connection.cursor() as cursor:
            return row_counts(cursor)
    finally:
        connection.rollback()
        connection.close()


class DrillError(Exception):
    pass


def _admin(url):
    connection = psycopg2.connect(libpq_url(url.set(database="postgres")))
    connection.autocommit = True
    return connection


def create_database(server, name: str) -> None:
    connection = _admin(server)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def drop_database(server, name: str) -> None:
    connection = _admin(server)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
    finally:
        connection.close()


def compare(drill: Drill, source: dict[str, int], restored: dict[str, int]) -> None:
    missing = sorted(set(source) - set(restored))
    extra = sorted(set(restored) - set(source))
    if missing:
        drill.fail("tables", f"missing from the restore: {', '.join(missing)}")
    if extra:
        drill.fail("tables", f"in the restore only: {', '.join(extra)}")
    differ = [f"{t} {source[t]} != {restored[t]}" for t in sorted(set(source) & set(restored))
              if source[t] != restored[t]]
    if differ:
        drill.fail("row counts", "source != restore: " + "; ".join(differ))
    if not (missing or extra or differ):
        drill.ok("row counts", f"{len(source)} tables, {sum(source.values())} rows, "
                               "every table equal")


def flask(command: list[str], target, workdir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=sqlalchemy_url(target))
    env.setdefault("INSTANCE_PATH", str(workdir / "instance"))
    env.setdefault("LOG_LEVEL", "WARNING")
    return run([sys.executable, "-m", "flask", "--app", "bank", *command], env=env)


def check_platform(drill: Drill, target, workdir: Path, *, require_audit: bool) -> None:
    reconciled = flask(["ledger", "reconcile"], target, workdir)
    output = (reconciled.stdout + reconciled.stderr).strip()
    if reconciled.returncode == 0:
        drill.ok("flask ledger reconcile", reconciled.stdout.strip().splitlines()[-1])
    else:
        drill.fail("flask ledger reconcile", f"exit {reconciled.returncode}\n{output}")
    verified = flask(["audit", "verify"], target, workdir)
    output = (verified.stdout + verified.stderr).strip()
    if verified.returncode == 2 and NO_SUCH_COMMAND in output:
        if require_audit:
            drill.fail("flask audit verify", "this platform has no `flask audit` commands")
        else:
            print("skip  flask audit verify: this platform has no `flask audit` commands "
                  "yet", flush=True)
    elif verified.returncode == 0:
        drill.ok("flask audit verify", (output.splitlines() or [""])[-1])
    else:
        drill.fail("flask audit verify", f"exit {verified.returncode}\n{output}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the database to back up (postgresql://...)")
    parser.add_argument("--dump", type=Path, help="restore this pg_dump file (custom format) "
                        "instead of dumping the source now")
    parser.add_argument("--no-compare", action="store_true",
                        help="with --dump: do not compare row counts with the source")
    parser.add_argument("--target-server", help="restore on this server (postgresql://user@host"
                        ":port; default the source's)")
    parser.add_argument("--workdir", type=Path, help="where the dump is written (default: a "
                        "temporary directory, removed afterwards)")
    parser.add_argument("--pg-bin", type=Path, default=Path(os.environ.get("PG_BIN",
                                                                         "/usr/bin")))
    parser.add_argument("--keep", action="store_true", help="keep the restored database")
    parser.add_argument("--require-audit", action="store_true",
                        help="fail when the platform has no `flask audit verify`")
    options = parser.parse_args(argv)

    source = make_url(options.source)
    server = make_url(options.target_server) if options.target_server else source
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    name = f"{source.database}_drill_{stamp}_{os.getpid()}"[-63:]
    target = server.set(database=name)
    drill = Drill()
    with tempfile.TemporaryDirectory(prefix="restore-drill-") as scratch:
        workdir = options.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        created = False
        try:
            if options.dump:
                dump = options.dump
                source_counts = None if options.no_compare else counts_of(source)
                drill.ok("dump", f"restoring {dump}")
            else:
                dump = workdir / f"{source.database}-{stamp}.dump"
                source_counts = dump_at_snapshot(source, dump, options.pg_bin)
                drill.ok("dump", f"{dump} ({dump.stat().st_size} bytes)")
            create_database(server, name)
            created = True
            restored = run([str(options.pg_bin / "pg_restore"), "--exit-on-error",
                            "--no-owner", "--no-acl", "--no-password",
                            f"--dbname={libpq_url(target)}", str(dump)])
            if restored.returncode != 0:
                raise DrillError(f"pg_restore failed: {restored.stderr.strip()}")
            drill.ok("restore", f"into {name}")
            if source_counts is not None:
                compare(drill, source_counts, counts_of(target))
            check_platform(drill, target, workdir, require_audit=options.require_audit)
        except (DrillError, psycopg2.Error, OSError, subprocess.TimeoutExpired) as error:
            drill.fail("drill", str(error).strip())
        finally:
            if created and not options.keep:
                drop_database(server, name)
            elif created:
                print(f"kept  {name}", flush=True)
    if drill.failures:
        print(f"restore drill FAILED: {len(drill.failures)} problem(s)", flush=True)
        return 1
    print("restore drill passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
