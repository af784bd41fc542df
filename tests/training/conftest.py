"""Fixtures of the training tests: a tiny Essen corpus on disk, tiny experiment YAMLs, subprocess runners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
TINY_RUN = HERE / "tiny_run.py"

from tiny_run import TINY_MODEL  # this folder is on sys.path (pytest's rootdir-relative imports)


def subprocess_env() -> dict[str, str]:
    """One thread per process (2 shared cores), the package importable, no stray distributed settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    return env


def tiny_run_command(output_dir: str | Path, **options) -> list[str]:
    return [sys.executable, str(TINY_RUN), str(output_dir)] + [f"{k}={yaml.safe_dump(v).strip().removesuffix('...').strip()}"
                                                              for k, v in options.items()]


def run_tiny(output_dir: str | Path, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(tiny_run_command(output_dir, **options), env=subprocess_env(), capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="session")
def essen_cache(tmp_path_factory) -> Path:
    """A built-and-saved tiny Essen corpus (4/2/2 songs, 2 queries each): what ``data.cache_dir`` points at."""
    from wav2tok_hf.data import prepare_essen

    path = tmp_path_factory.mktemp("corpus") / "essen-4-2-2"
    prepare_essen(num_songs=(4, 2, 2), queries_per_song=2, seed=0, output_dir=str(path))
    return path


def tiny_experiment(tmp_path: Path, cache_dir: str | Path, name: str = "tiny", **sections) -> Path:
    """Write a tiny experiment YAML (1 s unlabelled crops, a few steps) and return its path; ``sections`` update
    the model / data / training sections key by key, or replace top-level keys."""
    experiment = {
        "name": name,
        "model": dict(TINY_MODEL),
        "data": {"corpus": "essen", "cache_dir": str(cache_dir), "pairs": {"mode": "unlabelled", "crop_s": 1.0},
                 "eval_max_queries": 2},
        "training": {"output_dir": str(tmp_path / name / "model"), "max_steps": 2, "batch_size": 4, "e_step_interval": 2,
                     "e_step_clips": 4, "kmeans_iterations": 3, "eval_interval": 100, "save_interval": 1,
                     "logging_interval": 1, "report_to": "none", "progress_bar": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(experiment.get(key), dict):
            experiment[key] = {**experiment[key], **value}
        else:
            experiment[key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(experiment), encoding="utf-8")
    return path


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models on 2 shared cores: a second intra-op thread only spins (a 4-step run took 24 s with 2 threads
    under load, 0.6 s with 1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
