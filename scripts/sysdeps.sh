#!/usr/bin/env bash
# Install the Debian packages camscan's lab and tests need, when missing and when root.
# With the argument `bench`, also nmap (make bench compares camscan with nmap -sV).
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
# nft: the namespace lab's packet loss on its bridge (tests/lab/loss.py; the kernel here may
# have no sch_netem, so tc netem is not relied on)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# pdftotext: the worklist layout test reads the printed PDF back
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
# net-snmp's agent: the real SNMP agent of the snmp probe's tests and the namespace lab
[ -x /usr/sbin/snmpd ] || need+=(snmpd)
# the central inventory's tests run a throwaway PostgreSQL cluster (tests/pg.py)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# `sysdeps.sh bench`: also what the benchmark compares against (Debian's nmap)
if [ "${1:-}" = "bench" ]; then
  command -v nmap >/dev/null 2>&1 || need+=(nmap)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "sysdeps: missing ${need[*]} (not root: the namespace lab and PostgreSQL tests will skip)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Install without starting any service (snmpd, postgresql's main cluster): the tests start
# and stop their own agents and clusters. policy-rc.d exit 101 = "action forbidden".
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
# an index refresh that fails (no network, no gpgv) still leaves the image's lists usable
apt-get update -qq >/dev/null 2>&1 || echo "sysdeps: apt-get update failed; using the existing package lists" >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "sysdeps: installed ${need[*]}" >&2
