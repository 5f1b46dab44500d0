"""The audit trail's hash chain, as pure functions (no Flask, no SQLAlchemy), so that an
auditor can check an export offline with nothing but this file and Python.

Each record's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of its
fields together with the previous record's hash; the first record's previous hash is
GENESIS. Changing a record changes its hash; removing one breaks the sequence numbers or the
link of the next; inserting one out of order breaks the link (its own or the next one's).

    python -m aspsp.audit.chain EXPORT.jsonl [--previous-hash HASH]

checks an export written by `flask audit export` (or the regulator page's download) offline.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64
# The fields a record's hash covers, besides `prev_hash` (the whole record but its own hash).
FIELDS = ("seq", "occurred_at", "event_type", "actor_type", "actor_id", "subject",
          "client_ip", "interaction_id", "facts")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of a record: `fields` holds FIELDS (facts as a JSON object, occurred_at as an
    ISO 8601 string), `prev_hash` the previous record's hash (GENESIS for the first)."""
    body = {name: fields[name] for name in FIELDS}
    body["prev_hash"] = prev_hash
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first place the chain does not hold: the sequence number and why, in plain words."""
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.reason}"


def first_break(records: Iterable[Mapping[str, Any]], *, previous_hash: str = GENESIS,
                first_seq: int = 1) -> tuple[Break | None, int, str]:
    """Walk `records` (each with FIELDS, prev_hash and hash), in the order given; the first
    Break (or None), the number of records walked, and the last hash seen. `previous_hash`
    and `first_seq` say where the records start (an export of a later period)."""
    expected_seq, prev, count = first_seq, previous_hash, 0
    for record in records:
        seq = record["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                return Break(expected_seq, f"is missing or out of place (the next record is {seq})"), count, prev
            return Break(seq, f"is out of order (expected record {expected_seq})"), count, prev
        if record["prev_hash"] != prev:
            return Break(seq, "does not link to the record before it (previous hash differs): "
                         "inserted or reordered"), count, prev
        if record_hash(record, record["prev_hash"]) != record["hash"]:
            return Break(seq, "its contents do not match its hash: changed"), count, prev
        prev, expected_seq, count = record["hash"], expected_seq + 1, count + 1
    return None, count, prev


def _main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m aspsp.audit.chain",
                                     description="Verify an audit trail export offline.")
    parser.add_argument("export", help="a JSON lines export of the audit trail")
    parser.add_argument("--previous-hash", help="the hash of the record before the export "
                        "(from the previous period's export); default: the export's own")
    args = parser.parse_args(argv)
    with open(args.export, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    if not records:
        print("the export holds no records")
        return 0
    start = records[0]
    if args.previous_hash and start["prev_hash"] != args.previous_hash:
        print(f"record {start['seq']}: does not follow the given previous hash")
        return 1
    problem, count, last = first_break(records, previous_hash=start["prev_hash"],
                                       first_seq=start["seq"])
    if problem:
        print(problem)
        return 1
    print(f"{count} records verified (records {start['seq']} to {records[-1]['seq']}); "
          f"last hash {last}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
