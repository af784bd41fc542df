#!/usr/bin/env bash
# Idempotent set-up used by scripts/demo.sh and scripts/test.sh: FFmpeg (for 🤗 Datasets audio decoding through
# torchcodec) and this package with its pinned dependencies. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! command -v ffmpeg >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[install] FFmpeg (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  else
    echo "[install] warning: FFmpeg not found and cannot be installed here; decoding of 🤗 Datasets audio columns" \
         "needs it (WAV/FLAC files still work through soundfile)" >&2
  fi
fi

if ! "$PYTHON" -c "import wav2tok_hf, pytest_timeout" >/dev/null 2>&1 || [ "${WAV2TOK_REINSTALL:-0}" = 1 ]; then
  echo "[install] pip install -e .[dev] (torch pinned to 2.13.0: a looser spec pulls the CUDA build)"
  "$PYTHON" -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[dev]"
fi
# torchcrepe/torchaudio from PyPI are CUDA builds that break on CPU torch; make sure neither lingers.
"$PYTHON" -m pip uninstall -q -y torchaudio >/dev/null 2>&1 || true
