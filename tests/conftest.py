"""Shared fixtures for the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hub_offline_and_threads():
    """No network here: make Hub loads fail at once (the benchmark scripts also do this when the Hub is unreachable),
    and restore torch's thread count, which the scripts set (--threads)."""
    import torch
    from huggingface_hub import constants

    before, threads = constants.HF_HUB_OFFLINE, torch.get_num_threads()
    constants.HF_HUB_OFFLINE = True
    yield
    constants.HF_HUB_OFFLINE = before
    torch.set_num_threads(threads)


@pytest.fixture
def shared_data() -> Path:
    """The shared corpora (`../shared/data` beside the repo); CI has them at the same place."""
    path = REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path
