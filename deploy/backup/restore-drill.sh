#!/usr/bin/env bash
# The restore drill (deploy/backup/restore_drill.py: its docstring says every step):
#   deploy/backup/restore-drill.sh SOURCE_DATABASE_URL [--dump FILE] [--keep] [--require-audit]
# Dump, restore into a fresh database, compare every table's row count, run
# `flask ledger reconcile` and `flask audit verify` against the restored copy; exit 1 on any
# difference or problem. Runs with the repository's .venv (or $PYTHON).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../../.venv/bin/python}
[ -x "$python" ] || python=python3
exec "$python" "$here/restore_drill.py" "$@"
