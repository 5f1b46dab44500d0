"""The repository's copy of the official OBIE OpenAPI documents (specs/obie/) is what the
contract tests read, so that a fresh clone tests without anything beside it. Where the
workplace's reference copy is beside the repository (CI), the two must be the same files,
byte for byte: an edited or missing document would make the contract tests prove nothing."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.conftest import OBIE_SPECS, SHARED

REFERENCE = SHARED / "specs" / "obie"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _documents(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.json"))}


def test_every_contract_document_is_in_the_repository_and_parses():
    documents = _documents(OBIE_SPECS)
    for version in ("v3.1.11", "v4.0"):
        for name in ("account-info", "payment-initiation", "vrp", "confirmation-funds",
                     "events", "event-notifications"):
            path = f"{version}/{name}-openapi.json"
            assert path in documents, f"specs/obie/{path} is missing"
            assert json.loads((OBIE_SPECS / path).read_text())["openapi"].startswith("3.")


def test_the_copy_is_the_official_documents_unchanged():
    if not REFERENCE.is_dir():
        if IN_CI:
            pytest.fail(f"CI has the reference specifications beside the repository; "
                        f"{REFERENCE} is missing")
        pytest.skip("no reference copy beside the repository (a user's clone): nothing to compare")
    assert _documents(OBIE_SPECS) == _documents(REFERENCE)
