#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 60 s each; `bash tests/fuzz/run.sh 300`),
# starting from the seeds in corpus/ (new findings go to a scratch corpus, not the checkout).
# A panic, a hang (over 5 s on one input) or a memory blow-up fails the run and leaves the
# input under tests/fuzz/artifacts/. Needs the nightly toolchain (libFuzzer's instrumentation)
# and cargo-fuzz, which it installs from crates.io when missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
scratch="${CARGO_TARGET_DIR:-$PWD/target}/fuzz-corpus"
for target in list_request cursor; do
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  echo "fuzz: $target for ${seconds}s"
  if ! cargo +nightly fuzz run --fuzz-dir . "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -60 "$log" >&2
    echo "fuzz: $target failed (a crashing input, if one was found, is in tests/fuzz/artifacts/$target)" >&2
    exit 1
  fi
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -3 "$log"
done
