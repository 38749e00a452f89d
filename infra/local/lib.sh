# Shared settings of the infra/local scripts (sourced, not run).
# Everything installed or started lives under $CHAINLAKE_HOME (default ~/.cache/chainlake),
# outside the clone, so a fresh clone on the same machine rebuilds nothing.
set -euo pipefail

CHAINLAKE_HOME="${CHAINLAKE_HOME:-$HOME/.cache/chainlake}"
RUN_DIR="$CHAINLAKE_HOME/run"
export CHAINLAKE_HOME
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CHAINLAKE_HOME/target}"

# Pinned versions (see ../shared/infra-recipes.md of the project notes and docs/operations.md).
ANVIL_VERSION="1.7.1"
TANSU_VERSION="0.6.0"
MOTO_VERSION="5.2.5"
DUCKDB_VERSION="1.4.2"
OZ_VERSION="4.9.6"
UNIV2_CORE_VERSION="1.0.1"
UNIV2_PERIPHERY_VERSION="1.1.0-beta.0"

ANVIL_BIN="$CHAINLAKE_HOME/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
TANSU_BIN="$CHAINLAKE_HOME/tansu/bin/tansu"
MOTO_BIN="$CHAINLAKE_HOME/venv/bin/moto_server"
CONTRACTS_DIR="$CHAINLAKE_HOME/contracts/node_modules"

KAFKA_PORT="${CHAINLAKE_KAFKA_PORT:-9092}"
S3_PORT="${CHAINLAKE_S3_PORT:-9000}"
# A second moto that checks credentials against its IAM (for the credentials-file test).
S3_AUTH_PORT="${CHAINLAKE_S3_AUTH_PORT:-9001}"
S3_AUTH_CREDENTIALS="$RUN_DIR/moto-auth.credentials"
ANVIL_PORT="${CHAINLAKE_ANVIL_PORT:-8545}"
REDIS_PORT="${CHAINLAKE_REDIS_PORT:-6379}"
PROVIDER_PORT="${CHAINLAKE_PROVIDER_PORT:-8700}"
S3_BUCKET="${CHAINLAKE_S3_BUCKET:-chainlake}"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# wait_until NAME SECONDS CMD...: polls CMD until it succeeds or the deadline passes.
wait_until() {
  local name="$1" secs="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      die "$name not ready after ${secs}s (logs: $RUN_DIR/$name.log)"
    fi
    sleep 0.1
  done
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# running NAME: the process recorded in NAME.pid is alive.
running() { [[ -f "$RUN_DIR/$1.pid" ]] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }

anvil_ready() {
  curl -sf -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$1" | grep -q 0x7a69
}
