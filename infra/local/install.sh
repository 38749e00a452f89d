#!/usr/bin/env bash
# Installs (once, cached under $CHAINLAKE_HOME, pinned versions) the real services the
# pipeline and its tests use: anvil, tansu (with storage engines), moto, nginx, Redis, the
# npm contract artifacts, and DuckDB for the medallion benchmark. A second run checks and returns in about a second.
source "$(dirname "$0")/lib.sh"
mkdir -p "$CHAINLAKE_HOME" "$RUN_DIR"

need_cmd() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  need_cmd apt-get || die "apt-get not found: install $* by hand"
  log "apt-get install $*"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_cmd curl || apt_install curl
need_cmd npm || apt_install nodejs npm
need_cmd cc || apt_install gcc make
need_cmd python3 || apt_install python3 python3-venv
need_cmd redis-server || apt_install redis-server
need_cmd nginx || [[ -x /usr/sbin/nginx ]] || apt_install nginx
# Prometheus and promtool: the alert-rule and dashboard tests (tests/it_ops/prometheus.rs).
need_cmd promtool || apt_install prometheus
# docker-compose (v1, Debian): tests/it_ops/compose.rs loads docker-compose.yml and the Swarm stack with
# Compose's own schema (`config` needs no Docker engine).
need_cmd docker-compose || apt_install docker-compose

if [[ ! -x "$ANVIL_BIN" ]]; then
  log "installing anvil $ANVIL_VERSION (npm)"
  npm install --silent --prefix "$CHAINLAKE_HOME/anvil" "@foundry-rs/anvil-linux-amd64@$ANVIL_VERSION" >/dev/null
fi
[[ -x "$ANVIL_BIN" ]] || die "anvil binary missing at $ANVIL_BIN"

if [[ ! -f "$CONTRACTS_DIR/@uniswap/v2-periphery/build/UniswapV2Router02.json" ]]; then
  log "installing contract artifacts (npm)"
  npm install --silent --prefix "$CHAINLAKE_HOME/contracts" "@openzeppelin/contracts@$OZ_VERSION" \
    "@uniswap/v2-core@$UNIV2_CORE_VERSION" "@uniswap/v2-periphery@$UNIV2_PERIPHERY_VERSION" >/dev/null
fi

if [[ ! -x "$MOTO_BIN" ]]; then
  log "installing moto $MOTO_VERSION (pip, venv)"
  python3 -m venv "$CHAINLAKE_HOME/venv"
  "$CHAINLAKE_HOME/venv/bin/pip" install -q "moto[server]==$MOTO_VERSION"
fi

# DuckDB (Python) for `chainlake bench medallion`'s comparison only.
if ! "$CHAINLAKE_HOME/venv/bin/python3" -c "import duckdb" 2>/dev/null; then
  log "installing duckdb $DUCKDB_VERSION (pip, venv; for bench medallion)"
  "$CHAINLAKE_HOME/venv/bin/pip" install -q "duckdb==$DUCKDB_VERSION"
fi

if [[ ! -x "$TANSU_BIN" ]]; then
  # Only the storage features give a real engine; the plain build just discards (null://).
  log "building tansu $TANSU_VERSION with storage engines (cargo, ~10 min once)"
  CARGO_TARGET_DIR="$CHAINLAKE_HOME/tansu-target" cargo install tansu --version "$TANSU_VERSION" --locked \
    --features dynostore,libsql,postgres --root "$CHAINLAKE_HOME/tansu" >"$RUN_DIR/tansu-build.log" 2>&1 \
    || die "tansu build failed (see $RUN_DIR/tansu-build.log)"
fi
log "installed: anvil, tansu, moto, nginx, redis, contract artifacts, duckdb, prometheus, docker-compose"
