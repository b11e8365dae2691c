#!/usr/bin/env bash
# The browser tests drive Debian's chromium through playwright-core (never a downloaded browser).
# `npm test` runs this first: it installs the package with apt when it is missing and it can,
# and otherwise stops with what to do. CHROMIUM_PATH names another Chromium binary.
set -euo pipefail
bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$bin" ]; then exit 0; fi
if [ -n "${CHROMIUM_PATH:-}" ]; then
  echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "The browser tests need Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium), or CHROMIUM_PATH set to one." >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "The browser tests need Debian's chromium: run 'sudo apt-get install -y chromium' once, then npm test again." >&2
  exit 1
fi
echo "Installing Debian's chromium for the browser tests (apt-get install chromium)..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -x "$bin" ] || { echo "apt-get installed chromium but $bin is missing." >&2; exit 1; }
