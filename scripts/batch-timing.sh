#!/usr/bin/env bash
# Times a batch of 1000 contact upserts (create, then update) against a running release build.
# Usage: scripts/batch-timing.sh [DATABASE_URL]   (default: a fresh SQLite file)
set -euo pipefail
BIN="${CARGO_TARGET_DIR:-target}/release/crm"
DIR="$(mktemp -d)"
URL="${1:-$DIR/bench.sqlite3}"
PORT=18099
export CRM_JWT_SECRET="batch-timing-secret-batch-timing-secret"
"$BIN" --database-url "$URL" serve --bind 127.0.0.1:$PORT >"$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
TOKEN="$("$BIN" --database-url "$URL" token --sub bench --role admin)"
python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
for suffix in ("a", "b"):
    ops = [{"op": "upsert", "external_id": {"source": "bench", "id": f"C-{i}"},
            "data": {"first_name": f"F{i}", "last_name": f"L{suffix}", "email": f"c{i}@bulk.example.com", "city": "Seoul"}}
           for i in range(1000)]
    json.dump({"operations": ops}, open(f"{d}/batch-{suffix}.json", "w"))
PY
for suffix in a b; do
  curl -s -o /dev/null -w "batch of 1000 upserts ($([ $suffix = a ] && echo create || echo update)): %{time_total}s, HTTP %{http_code}\n" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data-binary "@$DIR/batch-$suffix.json" "http://127.0.0.1:$PORT/api/v1/contacts/batch"
done
