#!/usr/bin/env bash
# System packages the demo and the tests use: mosquitto (a real MQTT broker). Installed with apt-get when
# missing and run as root; otherwise say exactly what to install.
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The package starts a system broker on port 1883; the tests start their own on free ports.
    if command -v systemctl >/dev/null 2>&1; then systemctl stop mosquitto 2>/dev/null || true; fi
else
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them first, e.g.: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
