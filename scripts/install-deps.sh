#!/usr/bin/env bash
# Installs the Debian 12 packages gort needs to build, test and benchmark
# (SPEC.md section 4).  Installs only what is missing; as root it runs
# apt-get itself, otherwise it prints the exact command to run.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev
  libcriterion-dev
  libdw-dev libelf-dev
  libxxhash-dev
  liburcu-dev
  golang-go
  libglib2.0-dev uthash-dev libabsl-dev libboost1.81-dev
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "gort: installing missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "gort: not root; run as root (su -c '...' or sudo, where installed):" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
