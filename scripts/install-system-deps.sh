#!/usr/bin/env bash
# System packages from Debian. `demo`: mosquitto (a real MQTT broker). `test`: also LibreOffice Calc
# (reads the XLSX exports back), Chromium (the export page and Tableau WDC in a real browser) and
# prometheus for its promtool (checks and unit-tests deploy/prometheus-alerts.yml) and redis-server (the
# Celery broker of the distributed-execution test, started on a free port by the test itself).
# Installed with apt-get when missing and run as root; otherwise says exactly what to install.
set -euo pipefail
purpose=${1:-test}
declare -A command_of=([mosquitto]=mosquitto [libreoffice-calc-nogui]=libreoffice [chromium]=chromium [prometheus]=promtool [redis-server]=redis-server)
wanted=(mosquitto)
[ "$purpose" = test ] && wanted+=(libreoffice-calc-nogui chromium prometheus redis-server)
missing=()
for package in "${wanted[@]}"; do
    command -v "${command_of[$package]}" >/dev/null 2>&1 || [ -x "/usr/sbin/${command_of[$package]}" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The mosquitto package may start a system broker on port 1883; ours start on free ports.
    if command -v systemctl >/dev/null 2>&1; then systemctl stop mosquitto 2>/dev/null || true; fi
    # The prometheus package starts a server on port 9090 at boot; only its promtool is wanted.
    if [[ " ${missing[*]} " == *" prometheus "* ]]; then
        if command -v systemctl >/dev/null 2>&1; then
            systemctl stop prometheus 2>/dev/null || true
            systemctl disable prometheus 2>/dev/null || true
        fi
        if [ -x /etc/init.d/prometheus ]; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
    fi
    # The redis-server package starts a broker on port 6379; the tests start their own on free ports.
    if [[ " ${missing[*]} " == *" redis-server "* ]]; then
        if command -v systemctl >/dev/null 2>&1; then
            systemctl stop redis-server 2>/dev/null || true
            systemctl disable redis-server 2>/dev/null || true
        fi
        if [ -x /etc/init.d/redis-server ]; then /etc/init.d/redis-server stop >/dev/null 2>&1 || true; fi
    fi
else
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them first, e.g.: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
