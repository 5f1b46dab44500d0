"""The Makefile does what it says: `make bench` runs every benchmark bench/README.md documents."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, f"no {target} target"
    return match.group(1)


def test_make_bench_runs_every_documented_benchmark():
    documented = set(re.findall(r"^## (\w+\.py):", (ROOT / "bench" / "README.md").read_text(),
                                re.MULTILINE))
    assert len(documented) == 8
    run = set(re.findall(r"bench/(\w+\.py)", _recipe("bench")))
    assert run == documented
