#!/usr/bin/env bash
# The whole test suite: ruff, mypy, import-linter contracts, then pytest on SQLite and,
# when QINGLING_TEST_POSTGRES_URL is set (.ci/run sets it), again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(pwd)/.venv/bin:$PATH"
mkdir -p artifacts
echo "== ruff"; ruff check src tests bench scripts
echo "== mypy"; mypy src
echo "== import-linter"; lint-imports
echo "== pytest (SQLite)"
env -u DATABASE_URL pytest -q "$@"
if [ -n "${QINGLING_TEST_POSTGRES_URL:-}" ]; then
  echo "== pytest (PostgreSQL)"
  # The detection engine touches no database: its tests ran above.
  DATABASE_URL="$QINGLING_TEST_POSTGRES_URL" pytest -q -m "not browser" --ignore=tests/detect "$@"
fi
