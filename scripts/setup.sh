#!/usr/bin/env bash
# npm run setup: installs the Debian packages that building the data plane and running the tests
# need (scripts/system-packages.txt), the missing ones only: with apt-get as root, through sudo
# otherwise, or else it names them and stops. Does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r name package paths; do
  [[ -z $name || $name == \#* ]] && continue
  present=no
  if [[ -n $paths ]]; then
    for pattern in $paths; do compgen -G "$pattern" >/dev/null && present=yes; done
  elif command -v "$name" >/dev/null; then
    present=yes
  fi
  if [[ $present == no && " ${missing[*]} " != *" $package "* ]]; then missing+=("$package"); fi
done < scripts/system-packages.txt

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: the system packages the build and the tests use are all installed"
  exit 0
fi

install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if ! command -v apt-get >/dev/null; then
  echo "setup: not a Debian-like system (no apt-get); install the equivalents of these Debian packages: ${missing[*]}" >&2
  exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: as root, run: apt-get update && ${install[*]}" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${install[@]}"
