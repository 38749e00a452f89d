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

# S3 that checks credentials (IAM): a user, its key in a shared-credentials file, a bucket.
if ! running moto-auth; then
  tcp_open "$S3_AUTH_PORT" && die "port $S3_AUTH_PORT is taken by another process (set CHAINLAKE_S3_AUTH_PORT)"
  log "starting moto with IAM checks (S3) on :$S3_AUTH_PORT"
  rm -f "$S3_AUTH_CREDENTIALS"
  INITIAL_NO_AUTH_ACTION_COUNT=4 nohup "$MOTO_BIN" -H 127.0.0.1 -p "$S3_AUTH_PORT" \
    >"$RUN_DIR/moto-auth.log" 2>&1 &
  echo $! >"$RUN_DIR/moto-auth.pid"
  wait_until moto-auth 30 tcp_open "$S3_AUTH_PORT"
  "$CHAINLAKE_HOME/venv/bin/python" "$(dirname "$0")/moto_auth_seed.py" "http://127.0.0.1:$S3_AUTH_PORT" \
    "$S3_BUCKET" "$S3_AUTH_CREDENTIALS" || die "seeding moto-auth failed (see $RUN_DIR/moto-auth.log)"
fi

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
# A provider-like front for anvil: per-key rate limits answering 429 (like Infura), a key that
# also fails 20% of requests with 503, 401 for unknown keys.
if ! running nginx; then
  tcp_open "$PROVIDER_PORT" && die "port $PROVIDER_PORT is taken by another process (set CHAINLAKE_PROVIDER_PORT)"
  log "starting nginx (rate-limited provider) on :$PROVIDER_PORT"
  NG="$RUN_DIR/nginx"; mkdir -p "$NG"
  cat >"$NG/nginx.conf" <<CONF
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 256; }
http {
  log_format keyed '\$status \$request_uri';
  log_format leased '\$msec \$status \$request_uri \$http_x_chainlake_lease';
  access_log $NG/access.log keyed;
  client_body_temp_path $NG/body; proxy_temp_path $NG/proxy;
  fastcgi_temp_path $NG/fcgi; uwsgi_temp_path $NG/uwsgi; scgi_temp_path $NG/scgi;
  map \$request_uri \$api_key { ~^/v3/(?<k>[A-Za-z0-9_]+)\$ \$k; default ""; }
  limit_req_zone \$api_key zone=perkey:1m rate=10r/s;
  limit_req_status 429;
  split_clients "\${request_id}" \$flaky { 20% 1; * 0; }
  server {
    listen 127.0.0.1:$PROVIDER_PORT;
    location ~ ^/v3/(key_a|key_b)\$ {
      limit_req zone=perkey burst=5 nodelay;
      rewrite ^ / break; proxy_pass http://127.0.0.1:$ANVIL_PORT;
    }
    location ~ ^/v3/key_flaky\$ {
      if (\$flaky) { return 503; }
      limit_req zone=perkey burst=5 nodelay;
      rewrite ^ / break; proxy_pass http://127.0.0.1:$ANVIL_PORT;
    }
    # The key pool's keys (tests/it_ingest/key_pool.rs): 10 r/s each, as a free hosted key.
    location ~ ^/v3/pool_[0-9]+\$ {
      access_log $NG/pool.log leased;
      limit_req zone=perkey burst=10 nodelay;
      rewrite ^ / break; proxy_pass http://127.0.0.1:$ANVIL_PORT;
    }
    location / { return 401; }
  }
}
CONF
  nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
  "$nginx_bin" -c "$NG/nginx.conf" -p "$NG" || die "nginx failed to start (see $NG/error.log)"
  wait_until nginx 10 test -s "$NG/nginx.pid"
  cp "$NG/nginx.pid" "$RUN_DIR/nginx.pid"
  wait_until nginx 10 tcp_open "$PROVIDER_PORT"
fi
log "up: redis :$REDIS_PORT, s3 :$S3_PORT (bucket $S3_BUCKET), s3 with IAM :$S3_AUTH_PORT, kafka :$KAFKA_PORT, anvil :$ANVIL_PORT, provider :$PROVIDER_PORT"
