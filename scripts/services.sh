#!/usr/bin/env bash
# Start this machine's local PostgreSQL, Redis and NATS (JetStream) if they are not running (tests need them).
set -u
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
if command -v nats-server >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  echo "starting NATS with JetStream"
  mkdir -p /var/lib/nats-server
  setsid nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-server >/var/log/nats-ci.log 2>&1 < /dev/null &
  for _ in 1 2 3 4 5 6 7 8 9 10; do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.5; done
fi
exit 0
