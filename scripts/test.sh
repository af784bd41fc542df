#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (CPU, a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The web app's browser tests (tests/app/test_app_browser.py) drive Debian's chromium; they skip, saying so, where it
# is missing and cannot be installed (not root, or no apt).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[test] chromium (Debian package) for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
# The docstring examples in src/ run as tests too (--doctest-modules).
python3 -m pytest tests src --doctest-modules -q --timeout 900 -p no:cacheprovider "$@"
