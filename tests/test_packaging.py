"""A normal (non-editable) install works (issue 22, defect 7): build the wheel, install it into a fresh virtual
environment (torch and the other dependencies come from the system site-packages: nothing is downloaded), and
run ``wav2tok demo --help`` and a 2-step demo from a folder outside the repository, on the packaged config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    return env


def test_wheel_installs_and_runs_the_demo_outside_the_repository(tmp_path):
    pytest.importorskip("setuptools", reason="building the wheel without build isolation needs setuptools")
    source = tmp_path / "source"  # a clean copy: no stale build/ folder can leak files into the wheel
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "configs", source / "configs")
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    env = _env()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, env=env, timeout=300, capture_output=True)
    wheel = next((tmp_path / "dist").glob("wav2tok_hf-*.whl"))

    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, env=env, timeout=300, capture_output=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(python), "-c", "import wav2tok_hf, wav2tok_hf.demo as d; print(wav2tok_hf.__file__);"
                            " print(d.packaged_config())"], cwd=outside, env=env, capture_output=True, text=True,
                           check=True, timeout=120).stdout.split()
    assert all(str(tmp_path / "venv") in path for path in where), where  # the wheel's copy, not the checkout's

    wav2tok = str(tmp_path / "venv" / "bin" / "wav2tok")
    shown = subprocess.run([wav2tok, "demo", "--help"], cwd=outside, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "--output-dir" in shown.stdout
    overrides = ["model.hidden_size=16", "model.embedding_dim=8", "model.codebook_size=8", "model.n_fft=512",
                 "data.cache_dir=essen", "data.build={num_songs: [3, 2, 3], queries_per_song: 2, seed: 0}",
                 "data.eval_max_queries=4", "training.max_steps=2", "training.batch_size=2", "training.e_step_clips=4",
                 "training.eval_interval=2", "training.save_interval=2", "training.report_to=none",
                 "training.progress_bar=false"]
    demo = subprocess.run([wav2tok, "demo", "--output-dir", "model", "--no-progress", *overrides], cwd=outside, env=env,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "| wav2tok |" in demo.stdout and "time:" in demo.stdout
    assert (outside / "model" / "model.safetensors").is_file() and (outside / "model" / "benchmark.json").is_file()
