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

# (Re)install when the package is missing, or installed from another checkout than this one.
installed=$("$PYTHON" -c "import os, wav2tok_hf, pytest_timeout, playwright; print(os.path.realpath(os.path.dirname(wav2tok_hf.__file__)))" 2>/dev/null || true)
if [ "$installed" != "$(realpath src/wav2tok_hf)" ] || [ "${WAV2TOK_REINSTALL:-0}" = 1 ]; then
  echo "[install] pip install -e .[dev] (torch pinned to 2.13.0: a looser spec pulls the CUDA build)"
  "$PYTHON" -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[dev]"
fi
# PyPI torchaudio is a CUDA build that breaks on CPU torch (torchcrepe pulls it in): remove it if present.
"$PYTHON" -m pip uninstall -q -y torchaudio >/dev/null 2>&1 || true
