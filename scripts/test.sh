#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (CPU, a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
python3 -m pytest tests -q --timeout 900 -p no:cacheprovider "$@"
