#!/usr/bin/env bash
# Installs the Debian 12 packages that Patchbay's integration tests drive as real peers
# (see tests/support/ and /work/shared/testing-with-real-peers.md):
#
#   sip-tester (sipp)          load and conformance peer
#   chromium                   the browser for JsSIP / SIP.js / softphone tests (playwright-core)
#   kamailio + websocket mods  upstream PBX / benchmark peer
#   baresip-core               a legacy SIP phone
#   coturn                     TURN server
#   rtpengine-daemon           media engine (userspace)
#   dnsmasq-base               DNS server with NAPTR/SRV/A records for RFC 3263 tests
#                              (the binary only: no system service, unlike `dnsmasq`)
#   sox                        audio files for media checks
#   iproute2, iptables, curl   network namespaces + NAT for the NAT traversal e2e test
#   openssl                    self-signed certificates for the TLS/WSS tests
#   redis-server               the shared location store of several gateway nodes
#                              (tests/support/redis.ts starts its own, without persistence)
#
# Idempotent: installs only what is missing (one `apt-get update` first), prints what it
# installed, and changes nothing when everything is there. Needs root (or passwordless
# sudo) only when something is missing.
#
# Package scripts must not leave daemons behind that hold the ports tests use (kamailio
# 5060, coturn 3478, rtpengine, redis-server 6379): services are kept from starting during
# the install (policy-rc.d), and any of these services found running or enabled afterwards
# is stopped and disabled. Tests start their own instances on free ports.
set -euo pipefail

PACKAGES=(sip-tester chromium kamailio kamailio-websocket-modules baresip-core coturn rtpengine-daemon dnsmasq-base sox iproute2 iptables curl openssl redis-server)
SERVICES=(kamailio coturn rtpengine-daemon rtpengine-recording-daemon redis-server)

log() { printf 'install-peers: %s\n' "$*"; }

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  log "this script needs a Debian system (dpkg, apt-get); install these packages yourself: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    log "root is needed to run: $*" >&2
    log "run as root, or install by hand: apt-get install -y ${missing[*]:-}" >&2
    exit 1
  fi
}

# Stops and disables a system service the packages started or enabled. Only systemd
# starts them on install (deb-systemd-invoke); without systemd, invoke-rc.d does not run
# them ("could not determine current runlevel"), and Debian's kamailio/coturn init scripts
# are disabled in /etc/default until configured — so nothing is touched there, and daemons
# that tests or benchmarks started themselves are never affected.
quiet_service() {
  local name=$1
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet "$name" 2>/dev/null; then
      as_root systemctl stop "$name" && log "stopped service $name"
    fi
    if systemctl is-enabled --quiet "$name" 2>/dev/null; then
      as_root systemctl disable --quiet "$name" && log "disabled service $name"
    fi
  fi
  return 0
}

if [ ${#missing[@]} -eq 0 ]; then
  log "all test peers present (${PACKAGES[*]})"
else
  log "missing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep maintainer scripts from starting daemons during the install (invoke-rc.d and
  # deb-systemd-invoke honour policy-rc.d; exit 101 = action forbidden).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  log "installed: ${missing[*]}"
fi

for service in "${SERVICES[@]}"; do
  quiet_service "$service"
done

# The programs the tests look for (tests/support/processes.ts requireBinary).
for program in sipp chromium kamailio baresip turnserver rtpengine dnsmasq sox redis-server; do
  if ! command -v "$program" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$program" ] && [ ! -x "/usr/bin/$program" ]; then
    log "$program is still missing after the install" >&2
    exit 1
  fi
done
