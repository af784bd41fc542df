#!/usr/bin/env bash
# The main job on a fresh machine: install, build the embedded Essen corpus (music21's melodies, synthesised hums),
# train wav2tok-qbsh on CPU (~10-15 min on 2 cores), save it to ./wav2tok-qbsh and print retrieval MRR on
# held-out songs (vanilla / time-stretched / pitch-shifted queries) next to classic baselines measured in the same run.
# Extra arguments are passed on, e.g. `bash scripts/demo.sh training.max_steps=100` for a quick look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
wav2tok demo --output-dir wav2tok-qbsh "$@"
