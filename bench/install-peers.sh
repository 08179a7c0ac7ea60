#!/usr/bin/env bash
# Installs the Debian-packaged DMARC report tools that bench/peers.sh compares
# dmarcsift with, plus what it needs to run them. Kept out of
# scripts/install-deps.sh so that CI and ordinary builds never pull in a
# database server and a Perl stack. Safe to rerun; needs root (or sudo).
#   libmail-dmarc-perl     Mail::DMARC: dmarc_receive imports reports into SQLite
#   dmarcts-report-parser  imports reports into MySQL/MariaDB
#   mariadb-server         the throwaway server dmarcts-report-parser writes to
#   dmarc-cat              parses and prints reports, stores nothing
#   time                   /usr/bin/time -v for peak RSS
# parsedmarc is not packaged in Debian 12, so it is not installed or compared.
set -euo pipefail

packages=(libmail-dmarc-perl dmarcts-report-parser mariadb-server mariadb-client dmarc-cat time sqlite3 python3)

as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-peers: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-peers: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# Packages whose maintainer scripts would start a service (mariadb-server)
# must not leave a system-wide daemon behind: peers.sh runs its own server on
# a throwaway datadir. policy-rc.d refuses the start during this install only.
policy=/usr/sbin/policy-rc.d
made_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  made_policy=true
fi
cleanup() { if $made_policy; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
