#!/usr/bin/env bash
# What the browser tests need outside the venv: Debian's chromium (Playwright drives it through
# executable_path; `playwright install` is never run, the machine cannot download browser builds).
# Installs it with apt when it is missing and we may; otherwise says what is missing and how to get
# it, and exits 0: `make test` goes on, and the browser tests then fail with the same message
# (or are skipped with CAVRA_BROWSER_TESTS=skip).
set -uo pipefail

chromium="${CAVRA_CHROMIUM:-/usr/bin/chromium}"
stamp="${1:?usage: install_chromium.sh STAMP}"

if [ "${CAVRA_BROWSER_TESTS:-run}" = "skip" ]; then
  echo "browser tests: CAVRA_BROWSER_TESTS=skip, not installing chromium"
  exit 0
fi
if [ -x "$chromium" ]; then
  touch "$stamp"
  exit 0
fi
if [ "$chromium" = /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "browser tests: installing Debian's chromium (apt-get install -y chromium) ..."
  started=$(date +%s)
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq \
     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    echo "browser tests: chromium installed in $(( $(date +%s) - started )) s"
    touch "$stamp"
    exit 0
  fi
fi
cat >&2 <<MSG
browser tests: MISSING Chromium at $chromium.
  Install Debian's chromium as root:  apt-get update && apt-get install -y chromium
  or point CAVRA_CHROMIUM at a Chromium/Chrome binary,
  or set CAVRA_BROWSER_TESTS=skip to skip the browser tests (they fail otherwise).
MSG
exit 0
