#!/usr/bin/env bash
# Install the Debian packages the app and its tests need, when missing, and (as root) the
# unprivileged account sandboxed playbooks run as:
#   default-libmysqlclient-dev  to build mysqlclient
#   bubblewrap                  the sandbox every ansible-playbook runs in (automation/runner/sandbox.py)
#   mariadb-client              mariadb-dump and mariadb for manage.py backup / restore
#   openssh-server / -client    the real sshd the inventory and job tests start on loopback
#   chromium                    the headless browser for the e2e tests (only with --test)
#   redis-server                a private Redis broker for the scale-out tests (only with --test)
# Usage: scripts/system-deps.sh [--test]
set -euo pipefail
want=(default-libmysqlclient-dev pkg-config bubblewrap mariadb-client)
if [ "${1:-}" = "--test" ]; then
    want+=(openssh-server openssh-client chromium redis-server)
fi
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

# RUNNER_USER (default infra-runner): ansible-playbook drops to it when the worker runs as root.
# Its home is where Ansible keeps temporary files; each job's sandbox mounts the job's own
# directory there.
runner_user() {
    local name="${RUNNER_USER:-infra-runner}" home
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id "$name" >/dev/null 2>&1; then
        echo "Creating the system user $name (sandboxed playbooks run as it)"
        useradd --system --home-dir "/var/lib/$name" --shell /usr/sbin/nologin "$name"
    fi
    home="$(getent passwd "$name" | cut -d: -f6)"
    if [ ! -d "$home" ]; then
        install -d -m 0750 -o "$name" -g "$(id -gn "$name")" "$home"
    fi
}
# --test: infra-target, the account the tests' loopback sshd logs in as, so that who wrote a
# file shows which side ran a task (the target, or the sandbox on the controller).
test_target_user() {
    runner_user
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id infra-target >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/infra-target --create-home --shell /bin/sh infra-target
    fi
    # '*' rather than useradd's locked '!': sshd (without PAM) refuses locked accounts.
    usermod -p '*' infra-target
}
if [ "${1:-}" = "--test" ]; then
    trap test_target_user EXIT
else
    trap runner_user EXIT
fi

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
