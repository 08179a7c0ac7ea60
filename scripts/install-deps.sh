#!/usr/bin/env bash
# Installs everything dmarcsift needs to build and test, from Debian 12 packages.
# Safe to rerun; needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libpugixml-dev libarchive-dev libsqlite3-dev sqlite3
  libboost-program-options-dev doctest-dev libexpected-dev
  libgmime-3.0-dev libxxhash-dev zlib1g-dev libdeflate-dev libpsl-dev libidn2-dev publicsuffix
  python3 ca-certificates bsdutils
)

# --fuzz adds the compiler the libFuzzer targets need (scripts/fuzz.sh).
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
