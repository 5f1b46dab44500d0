"""README.md's "Sandbox magic values" section is sandbox/scenarios.py's table, word for word:
the page, the README and the code never drift (regenerate with `python -m sandbox.scenarios`)."""
from __future__ import annotations

from pathlib import Path

from sandbox import scenarios

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(text: str) -> str:
    start = text.index(scenarios.README_HEADING)
    return text[start:text.index("\n## ", start + 1)]


def test_the_readme_section_is_generated_from_the_scenarios():
    section = _section(README.read_text())
    assert section.startswith(scenarios.readme_section()), (
        "README.md's 'Sandbox magic values' differs from sandbox/scenarios.py: paste the "
        "output of `python -m sandbox.scenarios`")


def test_every_row_says_what_to_do_what_happens_and_where_it_is_built():
    keys = [s.key for s in scenarios.SCENARIOS]
    assert len(keys) == len(set(keys))
    for scenario in scenarios.SCENARIOS:
        assert scenario.api and scenario.trigger and scenario.outcome and scenario.code
        assert "|" not in scenario.trigger + scenario.outcome + scenario.api
        for path in scenario.code.replace(",", " ").split():
            if path.endswith(".py"):
                assert (README.parent / path).is_file(), path
