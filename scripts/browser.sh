#!/bin/sh
# The browser the dashboard tests drive: Debian's chromium, installed once (Playwright downloads nothing).
set -e
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing chromium for the dashboard browser tests" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
