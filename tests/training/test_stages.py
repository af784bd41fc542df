"""`wav2tok train --config STAGES.yaml` trains a released recipe's stages in order, each continuing the one before
(configs/released/wav2tok-speech.yaml), on a tiny Essen corpus; a rerun skips the stages already trained with the same
config; a broken chain is refused before anything trains."""

import json
from pathlib import Path

import pytest
from conftest import tiny_experiment

from wav2tok_hf.cli import main as cli_main
from wav2tok_hf.training import load_stages


def test_stages_train_in_order_and_chain(tmp_path, essen_cache, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the stages write ./wav2tok-<name>, as the released recipes do
    tiny_experiment(tmp_path, essen_cache, name="first", training={"output_dir": None})
    tiny_experiment(tmp_path, essen_cache, name="second",
                    training={"output_dir": None, "init_from": "wav2tok-first", "max_steps": 1})
    for name in ("first", "second"):  # no output_dir in the files: derived from the name
        path = tmp_path / f"{name}.yaml"
        path.write_text(path.read_text().replace("  output_dir: null\n", ""))
    stages = tmp_path / "both.yaml"
    stages.write_text("description: two stages\nstages: [first.yaml, second.yaml]\n")

    assert cli_main(["train", "--config", str(stages), "training.max_steps=2"]) == 0
    out = capsys.readouterr().out
    printed = [json.loads("{" + block) for block in out.split("{")[1:]]
    assert [(p["stage"], p["output_dir"], p["steps"]) for p in printed] == [
        ("first", "wav2tok-first", 2), ("second", "wav2tok-second", 2)]
    for name in ("first", "second"):
        saved = json.loads((tmp_path / f"wav2tok-{name}" / "training_config.json").read_text())
        assert saved["experiment"]["name"] == name
    assert saved["training_arguments"]["init_from"] == "wav2tok-first"  # the second stage started from the first
    assert (Path("wav2tok-second") / "model.safetensors").is_file()

    # the same command again: both stages are done with this config, nothing retrains
    mtimes = {name: (Path(f"wav2tok-{name}") / "model.safetensors").stat().st_mtime_ns for name in ("first", "second")}
    assert cli_main(["train", "--config", str(stages), "training.max_steps=2"]) == 0
    again = [json.loads("{" + block) for block in capsys.readouterr().out.split("{")[1:]]
    assert [(p["stage"], p.get("skipped")) for p in again] == [
        ("first", "already trained with this config"), ("second", "already trained with this config")]
    assert mtimes == {n: (Path(f"wav2tok-{n}") / "model.safetensors").stat().st_mtime_ns for n in ("first", "second")}
    # another config (here max_steps) is not "done": it trains again
    assert cli_main(["train", "--config", str(stages), "training.max_steps=3",
                     "training.overwrite_output_dir=true"]) == 0
    third = [json.loads("{" + block) for block in capsys.readouterr().out.split("{")[1:]]
    assert [(p["stage"], p.get("skipped"), p.get("steps")) for p in third] == [("first", None, 3), ("second", None, 3)]


def test_broken_chain_is_refused_before_training(tmp_path, essen_cache):
    tiny_experiment(tmp_path, essen_cache, name="first")
    tiny_experiment(tmp_path, essen_cache, name="second", training={"init_from": "somewhere-else"})
    stages = tmp_path / "both.yaml"
    stages.write_text("stages: [first.yaml, second.yaml]\n")
    with pytest.raises(ValueError, match="must continue from the stage before it"):
        load_stages(stages)
    stages.write_text("stages: first.yaml\n")
    with pytest.raises(ValueError, match="non-empty list of paths"):
        load_stages(stages)
    assert not list(tmp_path.glob("*/model.safetensors"))
