#!/usr/bin/env bash
# Runs schemathesis (pinned below, from PyPI) against the served /openapi.json of the real
# binary, with an admin token and every check on (config: schemathesis.toml, hooks.py).
# Usage: tests/contract/run.sh [max-examples]   (DATABASE_URL picks the database; default a
# fresh SQLite file). Fails when schemathesis reports any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SCHEMATHESIS_VERSION=4.32.5
venv=${CRM_VENV:-$HOME/.cache/crm-venv}
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/crm-target}
(cd "$root" && cargo build -q --bin crm)
bin=$CARGO_TARGET_DIR/debug/crm
work=$(mktemp -d)
port=${CRM_CONTRACT_PORT:-18181}
export DATABASE_URL=${DATABASE_URL:-$work/contract.sqlite3}
export CRM_JWT_SECRET=contract-run-secret-0123456789abcdef
export CRM_BIND=127.0.0.1:$port
# The fuzzer calls faster than any one caller may (a 429 is documented, but answers nothing).
export CRM_RATE_LIMIT=1000000 CRM_PUBLIC_RATE_LIMIT=1000000
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
token=$("$bin" token --sub contract-admin --role admin)
base=http://127.0.0.1:$port
# A few records, so reads and writes by id can find something.
"$bin" seed --demo >/dev/null
cd "$work"
status=0
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" "$venv/bin/st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
  -H "Authorization: Bearer $token" \
  --max-examples "${1:-10}" \
  --seed 20261203 \
  --report ndjson --report-dir "$work/report" \
  >"$work/st.txt" 2>&1 || status=$?
out=${CRM_CONTRACT_OUT:-$CARGO_TARGET_DIR/contract-schemathesis.txt}
cp "$work/st.txt" "$out"
tail -30 "$work/st.txt"
if [ "$status" -ne 0 ]; then
  echo "schemathesis failed (full output: $out); server log tail:" >&2
  tail -5 "$work/server.log" | cut -c1-400 >&2
fi
exit "$status"
