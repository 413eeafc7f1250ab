#!/usr/bin/env bash
# `make bench`: the release binary on seeded SQLite and PostgreSQL databases, driven by wrk at
# 32 connections, each scenario next to two ceilings measured in the same run:
#   - the HTTP ceiling: the same load generator against /healthz (fixed JSON, no database);
#   - the database ceiling: the same query straight against the database (pgbench with custom
#     scripts on PostgreSQL; `crm bench-db`, a direct loop through the same driver, on SQLite).
# Writes the table to the terminal and to docs/PERFORMANCE.md. Bounded: every run has a fixed
# duration and the servers it starts are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/crm-target}"
# Seconds of load per scenario, split into rounds that alternate with its ceiling (2 s each by
# default). Short, so that a first run with its release build stays under 15 minutes on 2 cores;
# BENCH_SECONDS=8 gives steadier figures where that time is available.
DUR="${BENCH_SECONDS:-4}"
CONNS=32
ACCOUNTS="${BENCH_ACCOUNTS:-10000}"
CONTACTS="${BENCH_CONTACTS:-100000}"
PORT=18090
WORK="$(mktemp -d)"
export BENCH_DIR="$WORK" BENCH_LUA="$ROOT/bench/wrk"
SERVER_PID=""
BUILD_PID=""
SINK_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
  [ -n "$BUILD_PID" ] && kill "$BUILD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }

# --- build and tools ---------------------------------------------------------------------
# The release build is most of a first run's time (about ten minutes on a fresh 2-core machine,
# docs/PERFORMANCE.md), so it starts first and the tools are installed while it compiles.
log "building the release binary"
cargo build --release --bin crm -q &
BUILD_PID=$!
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
source "$ROOT/bench/postgres.sh"
ensure_postgres
PGBENCH="$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1)"
wait "$BUILD_PID"
BUILD_PID=""
BIN="$CARGO_TARGET_DIR/release/crm"
export CRM_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export RUST_LOG=warn
# One token drives each scenario far past any caller's limit: the buckets run, never refuse.
export CRM_RATE_LIMIT=1000000000 CRM_PUBLIC_RATE_LIMIT=1000000000
# Campaign email goes to a local SMTP sink (bench/smtp_sink.py), as fast as it takes it.
SMTP_PORT=18025
SINK_FILE="$WORK/sink.txt"
: > "$SINK_FILE"
python3 "$ROOT/bench/smtp_sink.py" "$SMTP_PORT" "$SINK_FILE" &
SINK_PID=$!
# The default 8 SMTP connections, no pace.
export CRM_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" CRM_SMTP_FROM="Bench <bench@example.com>" CRM_SMTP_RATE=0
export CRM_PUBLIC_URL="http://127.0.0.1:$PORT"

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }  # backend scenario rps p50 p99 errors rss ceiling

rss_kb() { ps -o rss= -p "$SERVER_PID" 2>/dev/null | tr -d ' ' || echo 0; }

run_wrk() { # name script [path]
  local name="$1" script="$2"
  cat "$ROOT/bench/wrk/$script" "$ROOT/bench/wrk/report.lua" > "$WORK/$name.lua"
  local out
  settle
  out="$(BENCH_PATH="${3:-/}" wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$WORK/$name.lua" "http://127.0.0.1:$PORT" 2>&1)"
  local line; line="$(grep '^RESULT' <<<"$out" || echo "RESULT rps=0 p50_ms=0 p99_ms=0 errors=-1 requests=0")"
  # The requests still in flight when wrk stops take about as long as this round's slowest.
  settle_after "$(field p99_ms "$line")"
  echo "$line rss_kb=$(rss_kb)"
}

field() { sed -E "s/.*$1=([^ ]+).*/\1/" <<<"$2"; }

# Before each round, let the last requests of the round before finish, so that they do not land
# in this round's slowest answers (a SQLite search answers in up to a second): twice the last
# round's p99, between 0.2 and 1 s. Rounds run in subshells, so the wait goes through a file.
settle_after() { python3 -c "import sys; print(min(1.0, max(0.2, 2 * float(sys.argv[1]) / 1000)))" "${1:-500}" > "$WORK/settle"; }
settle() { sleep "$(cat "$WORK/settle" 2>/dev/null || echo 1)"; }

start_server() { # url
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" --database-url "$1" serve --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.02; done
  t1=$(date +%s.%N)
  STARTUP_MS=$(python3 -c "print(round(($t1-$t0)*1000))")
}

stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

bench_backend() { # backend url
  local backend="$1" url="$2"
  log "$backend: seeding $ACCOUNTS accounts and $CONTACTS contacts"
  local t0 t1; t0=$(date +%s.%N)
  "$BIN" --database-url "$url" seed --accounts "$ACCOUNTS" --contacts "$CONTACTS" --custom-fields >/dev/null
  t1=$(date +%s.%N)
  SEED_S=$(python3 -c "print(round($t1-$t0, 1))")
  if [ "$backend" = postgresql ]; then
    # The seed writes about 500 MB of WAL; left pending, it sets off a checkpoint a few minutes
    # later, in the middle of whichever scenario runs then. Checkpoint now, as after any bulk load.
    psql "$url" -qc "CHECKPOINT" >/dev/null
  fi
  start_server "$url"
  "$BIN" --database-url "$url" token --sub bench --role admin --ttl 2h > "$WORK/token"
  local token; token="$(cat "$WORK/token")"
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/contacts?limit=1000&sort=-created_at" \
    | python3 -c 'import json,sys; [print(r["id"]) for r in json.load(sys.stdin)["data"]]' > "$WORK/contact_ids"

  # Each scenario and its database ceiling run in alternation (ceiling, HTTP, HTTP, ceiling; half
  # the scenario time per round), so that drift in the machine's speed weighs on both sides of
  # the ratio alike: the same direct loop measured 11.6k and 16.6k ops/s a minute apart here.
  # Reads come first: rows inserted by the writes would change what a search walks through.
  db_prepare "$backend" "$url"
  log "$backend: HTTP scenarios (${DUR}s each, $CONNS connections), in alternation with their database ceilings"
  local r
  r=$(run_wrk healthz get_path.lua /healthz); HTTP_CEIL=$(field rps "$r")
  record "$backend" "http ceiling: GET /healthz" "$HTTP_CEIL" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")" "$(field rss_kb "$r")" "-"
  paired "$backend" "$url" "get contact by id" get get_contact.lua
  # The same with an API key: the key is looked up by its hash on every request (one indexed read
  # more), so that revoking it takes effect at once on every instance.
  curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name": "bench", "scopes": ["contacts:read"], "rate_limit_per_minute": 1000000}' \
    "http://127.0.0.1:$PORT/api/v1/api-keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' > "$WORK/apikey"
  r=$(BENCH_TOKEN_FILE=apikey run_wrk get_key get_contact.lua)
  record "$backend" "get contact by id, with an API key instead of a JWT" "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")" "$(field rss_kb "$r")" "$(ceil get)"
  paired "$backend" "$url" "list 50 by city, sorted by last name" list get_path.lua "/api/v1/contacts?limit=50&filter=city%5Beq%5D:Seoul&sort=last_name"
  paired "$backend" "$url" "same with include=account" include get_path.lua "/api/v1/contacts?limit=50&filter=city%5Beq%5D:Seoul&sort=last_name&include=account"
  paired "$backend" "$url" "full-text search (q=)" search search.lua
  paired "$backend" "$url" "list 50 by a custom field (one language in five), sorted by last name" custom get_path.lua "/api/v1/contacts?limit=50&filter=custom_fields.preferred_language%5Beq%5D:ko&sort=last_name"
  paired "$backend" "$url" "50 nearest within 5 km of Seoul City Hall (sort=distance)" near get_path.lua "/api/v1/contacts?limit=50&near=37.5665,126.978,5km&sort=distance"
  # GraphQL against the REST list: three rounds of each in alternation, so a burst of other load
  # on the machine weighs on both sides of the ratio alike (single runs minutes apart drifted
  # by up to 30% here). The row shows the GraphQL rounds together; the ratio is to the REST list
  # rounds between them.
  local rounds=() i
  for i in 1 2 3; do
    rounds+=("list $(DUR=$((DUR / 2)) run_wrk list get_path.lua "/api/v1/contacts?limit=50&filter=city%5Beq%5D:Seoul&sort=last_name")")
    rounds+=("graphql $(DUR=$((DUR / 2)) run_wrk graphql graphql_list.lua)")
  done
  r=$(python3 "$ROOT/bench/alternate.py" "$((DUR / 2))" "${rounds[@]}")
  record "$backend" "GraphQL 50 contacts + account (alternating with the REST list)" "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")" "$(field rss_kb "$r")" "rest:$(field rest "$r")"
  paired "$backend" "$url" "create contact (+ event)" create create_contact.lua
  r=$(run_wrk patch patch_if_match.lua)
  record "$backend" "PATCH with If-Match (+ event)" "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")" "$(field rss_kb "$r")" "$(ceil create)"

  # Single large calls: timed, five runs each.
  python3 "$ROOT/bench/batch_body.py" "$WORK"
  local times=() t
  for i in 1 2 3 4 5; do
    t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      --data-binary "@$WORK/batch-$((i % 2)).json" "http://127.0.0.1:$PORT/api/v1/contacts/batch")
    times+=("$t")
  done
  record "$backend" "batch upsert of 1000 contacts (ms per call, best/worst of 5)" \
    "$(python3 -c "import sys; v=[float(x)*1000 for x in sys.argv[1:]]; print(f'{min(v):.0f}/{max(v):.0f}')" "${times[@]}")" "-" "-" "0" "$(rss_kb)" "-"
  times=()
  for i in 1 2 3; do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/changes?after=0&limit=10000")")
  done
  record "$backend" "read 10k events from the change feed (ms per call, best/worst of 3)" \
    "$(python3 -c "import sys; v=[float(x)*1000 for x in sys.argv[1:]]; print(f'{min(v):.0f}/{max(v):.0f}')" "${times[@]}")" "-" "-" "0" "$(rss_kb)" "-"
  # Campaigns: a preview with a relation criterion, a campaign materialized over every contact
  # (the PATCH that schedules it), and that campaign's statistics.
  r=$(python3 "$ROOT/bench/campaigns.py" "http://127.0.0.1:$PORT" "$token")
  record "$backend" "segment preview, relation criterion, $(field preview_count "$r") of all contacts match (ms, best/worst of 5)" \
    "$(field preview_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  record "$backend" "materialize a campaign of $(field members "$r") members (ms)" "$(field materialize_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  record "$backend" "stats of that campaign (ms, best/worst of 5)" "$(field stats_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  r=$(python3 "$ROOT/bench/routes.py" "http://127.0.0.1:$PORT" "$token")
  record "$backend" "plan a route of 25 stops, a third with windows ($(field planned25 "$r") planned; ms, best/worst of 5)" "$(field plan25_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  record "$backend" "plan a route of 100 stops ($(field planned100 "$r") planned; ms, best/worst of 5)" "$(field plan100_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  r=$(python3 "$ROOT/bench/geo.py" "http://127.0.0.1:$PORT" "$token")
  record "$backend" "region snapshot of a country at H3 resolution 5 ($(field country_cells "$r") cells; ms, best/worst of 5)" "$(field country_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  record "$backend" "region snapshot of the whole base, $(field all_records "$r") records, at resolution 5 ($(field all_cells "$r") cells; ms, best/worst of 5)" "$(field all_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  bench_email "$backend" "$url" "$token"
  bench_analytics "$backend" "$url" "$token"
  bench_bulk "$backend" "$token"
  record "$backend" "start-up to ready (ms)" "$STARTUP_MS" "-" "-" "0" "-" "-"
  record "$backend" "seed $ACCOUNTS accounts + $CONTACTS contacts (s)" "$SEED_S" "-" "-" "0" "-" "-"
  stop_server
}

# Analytics at the scale of its targets: a purchase history of about 1M lines over every seeded
# contact (500 products), a full refresh as the server's job (the server's peak memory sampled
# during it), and the next best actions of the contacts read at 32 connections.
bench_analytics() { # backend url token
  local backend="$1" url="$2" token="$3" base="http://127.0.0.1:$PORT" r
  log "$backend: analytics data (1M purchase lines) and a full refresh"
  r=$("$BIN" --database-url "$url" bench-analytics-data --customers "$CONTACTS" --products 500 --lines "${BENCH_LINES:-1000000}" 2>/dev/null)
  if [ "$backend" = postgresql ]; then psql "$url" -qc "CHECKPOINT; ANALYZE" >/dev/null; fi
  local lines; lines=$(field lines "$r")
  r=$(python3 "$ROOT/bench/analytics.py" "$base" "$token" "$SERVER_PID")
  record "$backend" "analytics refresh: $(field customers "$r") customers, $lines purchase lines (s; load $(field load_s "$r"), fits $(field fit_s "$r"), analyse and write $(field write_s "$r"))" \
    "$(field seconds "$r")" "-" "-" "0" "$(python3 -c "print(int(float('$(field peak_rss_mb "$r")') * 1024))")" "-"
  record "$backend" "association mining over those lines, 500 products ($(field rules "$r") rules kept; s)" "$(field associations_s "$r")" "-" "-" "0" "-" "-"
  r=$(BENCH_SUFFIX=/next-best-actions run_wrk nba get_contact.lua)
  record "$backend" "next best actions of a contact" "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")" "$(field rss_kb "$r")" "-"
}

# Duplicates, bulk imports and exports: a duplicate scan of the seeded contacts, a CSV of new contacts (BENCH_IMPORT_ROWS, default 1M) upserted by
# external id as an import job, then every contact exported as a CSV job, then one city streamed;
# the server's peak memory sampled during each.
bench_bulk() { # backend token
  local backend="$1" token="$2" r rows="${BENCH_IMPORT_ROWS:-1000000}"
  log "$backend: import $rows contacts from CSV, then export them all"
  r=$(python3 "$ROOT/bench/bulk.py" "http://127.0.0.1:$PORT" "$token" "$SERVER_PID" "$rows")
  record "$backend" "duplicate scan of $(field scan_records "$r") contacts ($(field scan_pairs "$r") pairs; s)" \
    "$(field scan_s "$r")" "-" "-" "0" "$(python3 -c "print(int(float('$(field scan_peak_rss_mb "$r")') * 1024))")" "-"
  record "$backend" "import $(field import_rows "$r") contacts from CSV, upsert by external id (rows/s; $(field import_failed "$r") failed; peak anonymous $(field import_peak_anon_mb "$r") MB)" \
    "$(field import_rps "$r")" "-" "-" "0" "$(python3 -c "print(int(float('$(field import_peak_rss_mb "$r")') * 1024))")" "-"
  record "$backend" "export $(field export_rows "$r") contacts to CSV as a job ($(field export_bytes "$r") bytes; rows/s; peak anonymous $(field export_peak_anon_mb "$r") MB)" \
    "$(field export_rps "$r")" "-" "-" "0" "$(python3 -c "print(int(float('$(field export_peak_rss_mb "$r")') * 1024))")" "-"
  record "$backend" "stream the $(field stream_rows "$r") contacts of $(field stream_city "$r") as CSV (rows/s)" \
    "$(field stream_rps "$r")" "-" "-" "0" "$(rss_kb)" "-"
}

# Campaign email: a wave of 10k opted-in contacts through the SMTP sink with the rate limit off
# (messages per second from the launch to the last one taken, and the sink's duplicates); then
# another wave whose server is killed with -9 once 3000 messages are out, and started again:
# what the sink received twice (none may be), and how many were left in doubt (not resent).
bench_email() { # backend url token
  local backend="$1" url="$2" token="$3" base="http://127.0.0.1:$PORT" r cid
  log "$backend: campaign email"
  r=$(python3 "$ROOT/bench/email_wave.py" start "$base" "$token" 10000 "$backend wave")
  cid=$(field campaign "$r")
  record "$backend" "launch an email wave of $(field members "$r") members (queue the messages, ms)" "$(field launch_ms "$r")" "-" "-" "0" "$(rss_kb)" "-"
  r=$(python3 "$ROOT/bench/email_wave.py" finish "$base" "$token" "$SINK_FILE" "$cid" "$backend wave")
  record "$backend" "send them to a local SMTP sink, rate limit off (messages/s; $(field sent "$r") sent, $(field duplicates "$r") received twice)" "$(field rate "$r")" "-" "-" "0" "$(rss_kb)" "-"
  r=$(python3 "$ROOT/bench/email_wave.py" start "$base" "$token" 10000 "$backend crash")
  cid=$(field campaign "$r")
  until [ "$(grep -c "^$backend crash"$'\t' "$SINK_FILE" || true)" -ge 3000 ]; do sleep 0.02; done
  kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  start_server "$url"
  r=$(python3 "$ROOT/bench/email_wave.py" finish "$base" "$token" "$SINK_FILE" "$cid" "$backend crash")
  record "$backend" "kill -9 at 3000 of a 10k wave, restart: messages received twice ($(field received "$r") received, $(field in_doubt "$r") left in doubt, not resent)" "$(field duplicates "$r")" "-" "-" "0" "-" "-"
}

declare -A CEIL
ceil() { echo "${CEIL[$1]:--}"; }

db_prepare() { # backend url: what the PostgreSQL ceiling scripts read (a numbered copy of the contact ids)
  [ "$1" = postgresql ] || return 0
  psql "$2" -qc "DROP TABLE IF EXISTS bench_ids; CREATE TABLE bench_ids AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM contacts; CREATE UNIQUE INDEX ON bench_ids (n); ANALYZE;" >/dev/null
  BENCH_IDS=$(psql "$2" -Atc "SELECT count(*) FROM bench_ids")
}

db_ceiling() { # backend url scenario seconds: operations per second straight against the database
  local backend="$1" url="$2" s="$3" secs="$4"
  settle
  if [ "$backend" = postgresql ]; then
    sed "s/@N@/$BENCH_IDS/g" "$ROOT/bench/pgbench/$s.sql" > "$WORK/$s.sql"
    "$PGBENCH" -n -M prepared -c "$CONNS" -j 2 -T "$secs" -f "$WORK/$s.sql" "$url" 2>"$WORK/pgbench-$s.err" | sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -n1 || true
  else
    "$BIN" --database-url "$url" bench-db --scenario "$s" --seconds "$secs" --threads 2 | sed -nE 's/^ops_per_sec=([0-9.]+)/\1/p'
  fi
  settle_after 0  # pgbench and the direct loop wait for their last statements before they exit
}

paired() { # backend url label ceiling-scenario wrk-script [path]: ceiling, HTTP, HTTP, ceiling
  local backend="$1" url="$2" label="$3" s="$4" script="$5" path="${6:-/}" half=$(( (DUR + 1) / 2 ))
  local c1 c2 r1 r2 r
  c1=$(db_ceiling "$backend" "$url" "$s" "$half")
  r1=$(DUR=$half run_wrk "$s" "$script" "$path")
  r2=$(DUR=$half run_wrk "$s" "$script" "$path")
  c2=$(db_ceiling "$backend" "$url" "$s" "$half")
  r=$(python3 "$ROOT/bench/pair.py" "$r1" "$r2")
  CEIL[$s]=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(f'{sum(v)/len(v):.0f}' if v else '-')" "$c1" "$c2")
  record "$backend" "$label" "$(field rps "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")" "$(field rss_kb "$r")" "$(ceil "$s")"
}

MACHINE="$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(sed -nE 's/^model name\s*:\s*//p' /proc/cpuinfo | head -n1)"

rm -f "$WORK/bench.sqlite3"
bench_backend sqlite "$WORK/bench.sqlite3"
PGDB="crm_bench_$$"
psql "$PG_URL" -qc "CREATE DATABASE $PGDB" >/dev/null
PG_BENCH_URL="$(pg_url_for "$PGDB")"
bench_backend postgresql "$PG_BENCH_URL"
psql "$PG_URL" -qc "DROP DATABASE $PGDB WITH (FORCE)" >/dev/null

python3 "$ROOT/bench/report.py" "$RESULTS" "$MACHINE" "$DUR" "$CONNS" "$ROOT/docs/PERFORMANCE.md"
