#!/usr/bin/env bash
# Make sure the system packages and local services the tests use are present and up.
set -euo pipefail

need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need_apt+=(prometheus-alertmanager)
command -v prlimit >/dev/null || need_apt+=(util-linux)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)  # browser tests (Playwright drives it; never downloaded)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The Debian packages start their own daemons on the default ports; the tests start
  # their own on free ports, so stop the package's services if an init system started them.
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
    service "$svc" stop >/dev/null 2>&1 || true
  done
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
