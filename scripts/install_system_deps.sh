#!/usr/bin/env bash
# Install the system packages the tests need (PostgreSQL, Mosquitto, Chromium and
# chromedriver) when they are missing and we are root on Debian. Otherwise say
# what is missing and carry on: the tests that need a package fail with a clear message.
set -euo pipefail
need=()
# the server, not just the client tools (psql alone also creates /usr/lib/postgresql/*/bin)
[ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || need+=(postgresql)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto mosquitto-clients)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need[@]}" >/dev/null
else
  echo "warning: missing system packages: ${need[*]} (install them, e.g. apt-get install ${need[*]})" >&2
fi
