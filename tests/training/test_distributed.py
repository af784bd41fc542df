"""Two-process data-parallel training on CPU (gloo) through torchrun, as a user would launch it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import TINY_MODEL, subprocess_env, tiny_experiment

import wav2tok_hf  # noqa: F401  (registers the Auto classes, so no trust_remote_code is needed)


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is needed")
def test_two_process_cpu_training_with_torchrun(tmp_path):
    """`torchrun --standalone --nproc_per_node 2 -m wav2tok_hf.cli train ...` on CPU.

    Nothing else is needed: the trainer passes ``cpu=True`` to Accelerate when torchrun's WORLD_SIZE > 1 and no GPU
    is present (Accelerate would otherwise run two independent single-process trainings into one folder). The
    corpus cache does not exist yet, so rank 0 must build it while rank 1 waits.
    """
    cache = tmp_path / "corpus"  # built on first use, by rank 0 only
    config = tiny_experiment(tmp_path, cache, name="ddp", data={"build": {"num_songs": [4, 2, 2], "queries_per_song": 2}},
                             training={"max_steps": 4, "batch_size": 2, "save_interval": 2})
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "wav2tok_hf.cli", "train", "--config", str(config)]
    result = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=150, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "DistributedType.NO" not in result.stderr
    out = tmp_path / "ddp" / "model"
    checkpoint = tmp_path / "ddp" / "model-run" / "checkpoints" / "step_4"
    assert {"rng_state_0.safetensors", "rng_state_1.safetensors"} <= set(os.listdir(checkpoint)), "not a 2-process run"
    # one LR-schedule step per optimiser step (Accelerate steps a prepared scheduler once per process otherwise)
    assert json.loads((checkpoint / "scheduler.json").read_text())["last_epoch"] == 4
    assert os.path.isdir(cache) and not [p for p in os.listdir(tmp_path) if p.startswith(".corpus.partial")]
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(out))
    assert model.config.codebook_size == TINY_MODEL["codebook_size"]
    saved = json.loads((out / "training_config.json").read_text())
    assert saved["experiment"]["name"] == "ddp"
    printed = [json.loads(block) for block in ("{" + b for b in result.stdout.split("{")[1:])]
    assert any(p["best_validation_mrr"] >= 0 for p in printed)  # rank 0 evaluated
