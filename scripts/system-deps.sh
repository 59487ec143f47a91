#!/usr/bin/env bash
# Install the Debian packages the app and its tests need, when missing:
#   default-libmysqlclient-dev  to build mysqlclient
#   openssh-server / -client    the real sshd the inventory and job tests start on loopback
#   chromium                    the headless browser for the e2e tests (only with --test)
# Usage: scripts/system-deps.sh [--test]
set -euo pipefail
want=(default-libmysqlclient-dev pkg-config)
if [ "${1:-}" = "--test" ]; then
    want+=(openssh-server openssh-client chromium)
fi
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "Missing system packages: ${missing[*]} (install them with your package manager)" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
