"""The hash chain as pure functions: what `flask audit verify` and the offline check rest on."""
from __future__ import annotations

import json

from aspsp.audit import chain


def make_chain(n: int, prev: str = chain.GENESIS, first: int = 1) -> list[dict]:
    records = []
    for seq in range(first, first + n):
        fields = {"seq": seq, "occurred_at": f"2026-12-07T09:00:{seq % 60:02d}.000000+00:00",
                  "event_type": "consent.authorised", "actor_type": "customer",
                  "actor_id": f"psu-{seq}", "subject": f"c-{seq}", "client_ip": "10.0.0.1",
                  "interaction_id": None, "facts": {"n": seq}}
        digest = chain.record_hash(fields, prev)
        records.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    return records


def test_an_unbroken_chain_verifies():
    records = make_chain(5)
    problem, count, last = chain.first_break(records)
    assert problem is None and count == 5 and last == records[-1]["hash"]


def test_the_hash_is_sha256_over_sorted_key_json_with_the_previous_hash():
    import hashlib
    record = make_chain(1)[0]
    body = {k: record[k] for k in chain.FIELDS} | {"prev_hash": chain.GENESIS}
    expected = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()
    assert record["hash"] == expected


def test_a_changed_fact_is_named():
    records = make_chain(5)
    records[2]["facts"] = {"n": 999}
    problem, count, _ = chain.first_break(records)
    assert (problem.seq, count) == (3, 2)
    assert "changed" in str(problem)


def test_a_removed_record_is_named():
    records = make_chain(5)
    del records[1]
    problem, _, _ = chain.first_break(records)
    assert problem.seq == 2 and "missing" in problem.reason


def test_a_record_inserted_with_its_own_valid_hash_does_not_link():
    records = make_chain(4)
    forged = make_chain(1, prev="f" * 64, first=3)[0]
    records = records[:2] + [forged] + [dict(r, seq=r["seq"] + 1) for r in records[2:]]
    problem, _, _ = chain.first_break(records)
    assert problem.seq == 3 and "link" in problem.reason


def test_two_swapped_records_are_out_of_order():
    records = make_chain(4)
    records[1], records[2] = records[2], records[1]
    problem, _, _ = chain.first_break(records)
    assert problem.seq == 2 and "out of place" in problem.reason


def test_a_later_period_verifies_from_the_previous_hash(tmp_path, capsys):
    records = make_chain(6)
    part = records[3:]
    problem, count, _ = chain.first_break(part, previous_hash=records[2]["hash"], first_seq=4)
    assert problem is None and count == 3
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in part))
    assert chain._main([str(path), "--previous-hash", records[2]["hash"]]) == 0
    assert "3 records verified" in capsys.readouterr().out
    assert chain._main([str(path), "--previous-hash", records[1]["hash"]]) == 1
