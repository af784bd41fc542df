"""Fixtures of the data-recipe tests: the shared corpora (``<repo>/../shared/data``) and small built corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared corpus {path} not available")
    return path


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    return _shared("speech_commands_test_v0.02")


@pytest.fixture(scope="session")
def mast_dir() -> Path:
    return _shared("mastmelody")


@pytest.fixture(scope="session")
def essen_small():
    from wav2tok_hf.data import prepare_essen

    return prepare_essen(num_songs=(4, 1, 1), queries_per_song=2, seed=0)
