#!/usr/bin/env bash
# README command 2: starts the real local services, then runs every test tier
# (unit, integration against the services, golden SQL) with the lints CI enforces.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
# The shared anvil mines a block a second and tests add to it: a chain hours old makes tests that
# backfill it from 0 (tests/it_ingest/key_pool_storm.rs) slow. Each run starts on a fresh one.
if running anvil; then
  pid="$(cat "$RUN_DIR/anvil.pid")"
  log "restarting anvil ($pid) for a fresh chain"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$RUN_DIR/anvil.pid"
fi
bash infra/local/up.sh
# moto keeps every object in memory and lists a bucket by scanning all of it: start each test run
# from an empty S3 so earlier runs (and benchmarks) do not slow this one down.
curl -sf -X POST "http://127.0.0.1:$S3_PORT/moto-api/reset" >/dev/null || die "resetting moto failed"
curl -sf -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" >/dev/null || die "creating bucket $S3_BUCKET failed"

export CHAINLAKE_TEST_KAFKA="${CHAINLAKE_TEST_KAFKA:-127.0.0.1:$KAFKA_PORT}"
export CHAINLAKE_TEST_S3="${CHAINLAKE_TEST_S3:-http://127.0.0.1:$S3_PORT}"
export CHAINLAKE_TEST_BUCKET="$S3_BUCKET"
export CHAINLAKE_TEST_S3_AUTH="${CHAINLAKE_TEST_S3_AUTH:-http://127.0.0.1:$S3_AUTH_PORT}"
export CHAINLAKE_TEST_S3_AUTH_CREDENTIALS="${CHAINLAKE_TEST_S3_AUTH_CREDENTIALS:-$S3_AUTH_CREDENTIALS}"
export CHAINLAKE_TEST_PROVIDER="${CHAINLAKE_TEST_PROVIDER:-http://127.0.0.1:$PROVIDER_PORT}"
export CHAINLAKE_TEST_PROVIDER_LOG="$RUN_DIR/nginx/access.log"
export CHAINLAKE_TEST_ANVIL="${CHAINLAKE_TEST_ANVIL:-http://127.0.0.1:$ANVIL_PORT}"

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
