#!/usr/bin/env bash
# Train every ablation/lever config for the same (short) number of steps and seed, then benchmark them together on
# unseen Essen songs (V / TS / PS) with scripts/benchmark_qbsh.py --ablation-dir: a row for the model selected by
# validation MRR (<name>) and one for the final model (<name>-last).
#   bash scripts/run_ablations.sh [STEPS] [SEED] [CONFIG ...]
# Defaults: 200 steps, seed 0, the paper's objective + its four Table 2 ablations + the qbsh levers and the
# ablations of the release's front-end choices (mean key, K=32, contour scalars).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-200}; SEED=${2:-0}; shift $(( $# > 2 ? 2 : $# ))
CONFIGS=${*:-paper paper-nosim paper-cos paper-ctc paper-newinit qbsh qbsh-no-augmentation qbsh-no-alignment qbsh-no-diversity qbsh-logmel qbsh-paper-features qbsh-mean-key qbsh-k32 qbsh-contour-scalars}
OUT=runs/ablations-${STEPS}steps-seed${SEED}
mkdir -p "$OUT"
for name in $CONFIGS; do
  if [ -f "$OUT/$name-last/config.json" ]; then echo "[ablation] $name: done, skipping"; continue; fi
  echo "[ablation] training $name ($STEPS steps, seed $SEED)"
  config=$(find configs -name "$name.yaml")   # configs/paper/, configs/released/ or configs/levers/<corpus>/
  [ -n "$config" ] || { echo "[ablation] no configs/**/$name.yaml" >&2; exit 2; }
  wav2tok train --config "$config" training.max_steps="$STEPS" training.seed="$SEED" \
    training.output_dir="$OUT/$name" training.progress_bar=false training.report_to=none
  cp -r "$OUT/$name-run/last" "$OUT/$name-last"   # the final model too: selection may keep an early step
done
python scripts/benchmark_qbsh.py --ablation-dir "$OUT" --corpus essen --corpus-dir data_cache/essen-1000-50-100 \
  --output-dir "$OUT/benchmark" --seed "$SEED"
