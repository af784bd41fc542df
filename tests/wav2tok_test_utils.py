"""Helpers shared by the top-level tests: tiny configs and deterministic audio."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (the scripts import each other by name, as when run from scripts/)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


def tiny_config(**overrides):
    from wav2tok_hf import Wav2TokConfig

    settings = dict(sampling_rate=8000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16, embedding_dim=8,
                    codebook_size=12, num_layers=2, dropout=0.0)
    settings.update(overrides)
    return Wav2TokConfig(**settings)


def tone(seconds: float, sr: int = 8000, freq: float = 220.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise (deterministic)."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    wave = sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3))
    return (0.3 * wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
