"""Command-line options of the web app, shared by ``app.py`` and ``wav2tok app`` (kept free of heavy imports so
that ``wav2tok --help`` stays fast)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MELODY_MODEL = REPO_ROOT / "checkpoints" / "wav2tok-qbsh"
DEFAULT_SPEECH_MODEL = REPO_ROOT / "checkpoints" / "wav2tok-speech"
SHARED_SPEECH_FOLDERS = {  # corpora a checkout beside ../shared can index (see --speech-folder)
    "speechocean762 (read English sentences)": REPO_ROOT.parent / "shared" / "data" / "speechocean762_train" / "WAVE",
    "Speech Commands (one-word clips)": REPO_ROOT.parent / "shared" / "data" / "speech_commands_test_v0.02",
}


def default_cache_dir() -> Path:
    """``$WAV2TOK_APP_CACHE``, else ``$XDG_CACHE_HOME/wav2tok-app`` (``~/.cache/wav2tok-app``)."""
    if os.environ.get("WAV2TOK_APP_CACHE"):
        return Path(os.environ["WAV2TOK_APP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wav2tok-app"


def add_app_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The app's command-line options (shared by ``app.py`` and ``wav2tok app``)."""
    parser.add_argument("--model", default=str(DEFAULT_MELODY_MODEL),
                        help="melody checkpoint: a local folder or Hub id (default checkpoints/wav2tok-qbsh)")
    parser.add_argument("--index", default=None,
                        help="search this index folder (a saved Wav2TokIndex or an app catalog) instead of the Essen one")
    parser.add_argument("--essen-songs", type=int, default=300,
                        help="songs in the Essen index built on first start (default 300)")
    parser.add_argument("--speech-model", default=str(DEFAULT_SPEECH_MODEL),
                        help="speech checkpoint for 'find where it was said' (default checkpoints/wav2tok-speech)")
    parser.add_argument("--speech-index", default=None, help="an index folder of utterances made with the speech model")
    parser.add_argument("--speech-folder", default=None,
                        help="index the audio files under this folder for 'find where it was said' (cached)")
    parser.add_argument("--speech-limit", type=int, default=300,
                        help="index at most this many files of --speech-folder, by path (default 300)")
    parser.add_argument("--cache-dir", default=None, help=f"where built indexes are cached (default {default_cache_dir()})")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to serve on (default $GRADIO_SERVER_NAME, which a Space sets to 0.0.0.0, else "
                             "127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (default 7860)")
    return parser
