#!/usr/bin/env bash
# Installs if needed, then starts on 127.0.0.1 every service of the local pipeline, each
# checked for readiness with a deadline: Redis, S3 (moto), Kafka protocol (tansu, sqlite
# storage), anvil. Already running services are left alone. Stop with infra/local/down.sh.
source "$(dirname "$0")/lib.sh"
bash "$(dirname "$0")/install.sh"

# Redis: the machine may already run one; otherwise start ours.
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  log "starting redis on :$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log"
  wait_until redis 10 redis-cli -p "$REDIS_PORT" ping
fi

# S3: moto server (in memory; enforces conditional writes like MinIO).
if ! running moto; then
  tcp_open "$S3_PORT" && die "port $S3_PORT is taken by another process (set CHAINLAKE_S3_PORT)"
  log "starting moto (S3) on :$S3_PORT"
  nohup "$MOTO_BIN" -H 127.0.0.1 -p "$S3_PORT" >"$RUN_DIR/moto.log" 2>&1 &
  echo $! >"$RUN_DIR/moto.pid"
  wait_until moto 30 curl -sf "http://127.0.0.1:$S3_PORT/"
fi
curl -sf -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" >/dev/null || die "creating bucket $S3_BUCKET failed"

# Kafka protocol: tansu on sqlite (memory:// and s3:// engines lose records; no transactions).
if ! running tansu; then
  tcp_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process (set CHAINLAKE_KAFKA_PORT)"
  log "starting tansu (Kafka) on :$KAFKA_PORT"
  mkdir -p "$RUN_DIR/tansu"
  ( cd "$RUN_DIR/tansu" && exec nohup "$TANSU_BIN" broker \
      --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
      --storage-engine sqlite://tansu.db >>"$RUN_DIR/tansu.log" 2>&1 ) &
  echo $! >"$RUN_DIR/tansu.pid"
  wait_until tansu 20 tcp_open "$KAFKA_PORT"
fi

# anvil: a long-lived dev chain for manual runs (the demo and tests start their own).
if ! running anvil; then
  tcp_open "$ANVIL_PORT" && die "port $ANVIL_PORT is taken by another process (set CHAINLAKE_ANVIL_PORT)"
  log "starting anvil on :$ANVIL_PORT"
  nohup "$ANVIL_BIN" --host 127.0.0.1 --port "$ANVIL_PORT" --chain-id 31337 --block-time 1 \
    >"$RUN_DIR/anvil.log" 2>&1 &
  echo $! >"$RUN_DIR/anvil.pid"
  wait_until anvil 20 anvil_ready "$ANVIL_PORT"
fi
log "up: redis :$REDIS_PORT, s3 :$S3_PORT (bucket $S3_BUCKET), kafka :$KAFKA_PORT, anvil :$ANVIL_PORT"
