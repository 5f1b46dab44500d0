"""The guard of tests/ast_race.py: CPython 3.11.7's `ast.parse` fails when two threads parse at
once and a garbage collection hands the GIL over mid-parse; with the guard it does not.

Each race runs in a child interpreter, so this session's own `ast.parse` is not involved: two
threads parse in a loop, and a gc callback that sleeps makes every collection hand the GIL to
the other thread, as a finalizer that does I/O would."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import ast_race

ROOT = Path(__file__).resolve().parents[2]

RACE = textwrap.dedent("""
    import ast, gc, json, sys, threading, time
    from tests import ast_race
    if sys.argv[1] == "guarded":
        assert ast_race.install()
    source = open(ast_race.__file__.replace("ast_race.py", "conftest.py")).read()
    errors, parses, stop = [], [0], time.monotonic() + float(sys.argv[2])
    gc.callbacks.append(lambda phase, info: time.sleep(0))
    def parse(text):
        while time.monotonic() < stop and not errors:
            try:
                ast.parse(text)
                parses[0] += 1
            except SystemError as exc:
                errors.append(str(exc))
    threads = [threading.Thread(target=parse, args=(text,)) for text in (source, "a[b + c]")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"errors": errors, "parses": parses[0]}))
""")


def race(mode: str, seconds: float) -> dict:
    done = subprocess.run([sys.executable, "-c", RACE, mode, str(seconds)], cwd=ROOT,
                          capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not ast_race.has_race(), reason="this interpreter has no ast.parse race")
def test_unguarded_parses_race_on_this_interpreter():
    """Without the guard the race shows within seconds: the guarded run below is a real test."""
    result = race("unguarded", 20)
    assert result["errors"], result
    assert "AST constructor recursion depth mismatch" in result["errors"][0]


def test_guarded_parses_never_race():
    result = race("guarded" if ast_race.has_race() else "unguarded", 4)
    assert result["errors"] == []
    assert result["parses"] > 100


@pytest.mark.parametrize(("version", "expected"), [
    ((3, 11, 0), True), ((3, 11, 7), True), ((3, 11, 8), False), ((3, 12, 1), False),
    ((3, 10, 13), False), ((3, 13, 0), False)])
def test_only_the_releases_with_the_race_are_guarded(version, expected):
    assert ast_race.has_race(version) is expected
