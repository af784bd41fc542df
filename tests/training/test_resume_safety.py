"""Resume through the CLI with evaluation and model selection on, and checkpoints that cannot run code (issue 22)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_experiment
from safetensors.torch import load_file
from tiny_run import build

from wav2tok_hf.cli import main as cli_main


def _train(config: Path, *overrides: str) -> None:
    assert cli_main(["train", "--config", str(config), *overrides]) == 0


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_cli_resume_with_evaluation_and_selection_is_bit_identical(tmp_path, essen_cache, capsys):
    """Before the fix, saving the selected model changed the live config (architectures, auto_map, dtype) before the
    checkpoint's config was written, so `resume_from_checkpoint=latest` refused the run's own checkpoint."""
    evaluated = {"eval_interval": 1, "save_interval": 1, "max_steps": 3}
    reference = tiny_experiment(tmp_path, essen_cache, name="ref", training=evaluated)
    _train(reference)
    resumed = tiny_experiment(tmp_path, essen_cache, name="res", training=evaluated)
    _train(resumed, "training.max_steps=2")  # the sequence: 2 steps, then 3 resumed from `latest`
    _train(resumed, "training.max_steps=3", "training.resume_from_checkpoint=latest")
    capsys.readouterr()
    # A run killed after step 1: drop everything written later, resume, compare with the uninterrupted run.
    run = tmp_path / "res" / "model-run"
    for later in ("checkpoints/step_2", "checkpoints/step_3", "best", "last"):
        shutil.rmtree(run / later)
    shutil.rmtree(tmp_path / "res" / "model")
    _train(resumed, "training.resume_from_checkpoint=latest")
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps"] == 3
    ref_state = json.loads((tmp_path / "ref" / "model-run" / "checkpoints" / "step_3" / "trainer_state.json").read_text())
    res_state = json.loads((run / "checkpoints" / "step_3" / "trainer_state.json").read_text())
    assert len(ref_state["history"]) == 4 and ref_state == res_state  # evaluated at steps 0..3, same metrics
    for folder in ("model", "model-run/best", "model-run/last", "model-run/checkpoints/step_3"):
        a, b = _weights(tmp_path / "ref" / folder), _weights(tmp_path / "res" / folder)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), folder


class _Payload:
    """Unpickling this creates ``marker``: proof that a checkpoint file ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def test_checkpoints_hold_no_pickles_and_a_planted_one_is_refused_unexecuted(tmp_path):
    build(str(tmp_path / "m"), max_steps=1, save_interval=1, ctc_blank=True).train()
    step = tmp_path / "m-run" / "checkpoints" / "step_1"
    assert {p.suffix for p in step.iterdir()} == {".json", ".safetensors"}
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_Payload(marker))

    tampered = tmp_path / "tampered-1"  # an extra pickle, named as Accelerate names its custom states
    shutil.copytree(step, tampered)
    (tampered / "custom_checkpoint_0.pkl").write_bytes(payload)
    with pytest.raises(ValueError, match=r"pickle files \['custom_checkpoint_0.pkl'\]"):
        build(str(tmp_path / "m"), max_steps=2, resume_from_checkpoint=str(tampered)).train()

    tampered = tmp_path / "tampered-2"  # a pickle in place of the optimizer's safetensors file
    shutil.copytree(step, tampered)
    (tampered / "optimizer.safetensors").write_bytes(payload)
    with pytest.raises(ValueError, match="optimizer.safetensors is missing or not a valid safetensors file"):
        build(str(tmp_path / "m"), max_steps=2, resume_from_checkpoint=str(tampered)).train()
    assert not marker.exists()
    pickle.loads(payload)  # the payload is real: unpickling it runs its code
    assert marker.is_dir()


def test_train_keeps_the_users_files_in_output_dir(tmp_path, essen_cache, capsys):
    """Before the fix, `wav2tok train ... training.output_dir=DIR` replaced DIR wholesale (the user's files gone) and
    left it mode 0700 with 0600 weights."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    config = tiny_experiment(tmp_path, tmp_path / "never-built", training={"output_dir": str(out)})
    assert cli_main(["train", "--config", str(config)]) == 2
    assert "non-empty folder that holds no wav2tok model" in capsys.readouterr().err
    assert not (tmp_path / "never-built").exists() and sorted(os.listdir(out)) == ["thesis.tex"]  # nothing was built
    before = os.umask(0o022)
    try:
        config = tiny_experiment(tmp_path, essen_cache, training={"output_dir": str(out), "overwrite_output_dir": True})
        _train(config)
        _train(config)  # and again into what is now a model folder
    finally:
        os.umask(before)
    assert (out / "thesis.tex").read_text() == "years of work" and (out / "model.safetensors").is_file()
    assert oct(out.stat().st_mode & 0o777) == "0o755"
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in out.iterdir())
