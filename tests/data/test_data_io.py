"""Saving: atomic output, no half-written folders after failures, overwrite rules, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from datasets import DatasetDict, load_from_disk

from wav2tok_hf.data import prepare_essen, prepare_speech_commands
from wav2tok_hf.data._io import split_groups
from wav2tok_hf.data.cli import main


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_failure_while_saving_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(self, path, **kwargs):
        (tmp_path / "marker").write_text("started")
        raise OSError("disk full")

    monkeypatch.setattr(DatasetDict, "save_to_disk", broken_save)
    with pytest.raises(OSError, match="disk full"):
        prepare_essen(tmp_path / "out", num_songs=(1, 1, 1), queries_per_song=0)
    assert _leftovers(tmp_path) == ["marker"]


def test_failure_while_building_leaves_nothing(tmp_path):
    source = tmp_path / "speech" / "yes"
    source.mkdir(parents=True)
    for speaker in ("aa01", "bb02", "cc03"):
        sf.write(source / f"{speaker}_nohash_0.wav", np.zeros(1600), 16000)
    (source / "dd04_nohash_0.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match="unreadable clip"):
        prepare_speech_commands(tmp_path / "speech", tmp_path / "out")
    assert _leftovers(tmp_path) == ["speech"]


def test_overwrite_rules(tmp_path):
    out = tmp_path / "out"
    prepare_essen(out, num_songs=(1, 1, 1), queries_per_song=0, seed=0)
    first = load_from_disk(str(out))["train"]["label"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        prepare_essen(out, num_songs=(1, 1, 1), queries_per_song=0, seed=1)
    prepare_essen(out, num_songs=(1, 1, 1), queries_per_song=0, seed=1, overwrite=True)
    assert load_from_disk(str(out))["train"]["label"] != first
    assert _leftovers(tmp_path) == ["out"]


def test_an_empty_split_is_saved_and_loads_back(tmp_path):
    """A corpus built with no test songs saves and reopens (datasets writes no shard for an empty split unless told)."""
    corpus = prepare_essen(tmp_path / "out", num_songs=(2, 1, 0), queries_per_song=0, seed=0)
    assert (len(corpus["train"]), len(corpus["test"])) == (2, 0)
    reopened = load_from_disk(str(tmp_path / "out"))
    assert len(reopened["test"]) == 0 and reopened["test"].features == corpus["train"].features


def test_split_groups():
    splits = split_groups([f"s{i}" for i in range(20)], (0.8, 0.1, 0.1), 0, "speakers")
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [16, 2, 2]
    assert split_groups(["a", "b", "c"], (0.8, 0.1, 0.1), 0, "x")["train"] != []
    with pytest.raises(ValueError, match="sum"):
        split_groups(["a", "b", "c"], (0.5, 0.1, 0.1), 0, "x")


def test_cli_builds_each_corpus(tmp_path, speech_dir, mast_dir, capsys):
    assert main(["essen", str(tmp_path / "essen"), "--num-songs", "1", "1", "1", "--queries-per-song", "1"]) == 0
    assert main(["mastmelody", str(tmp_path / "mast"), "--source", str(mast_dir), "--real-samples"]) == 0
    assert main(["speech-commands", str(tmp_path / "sc"), "--source", str(speech_dir), "--max-clips", "30"]) == 0
    assert main(["std", str(tmp_path / "std"), "--source", str(speech_dir), "--max-clips", "500",
                 "--num-utterances", "1", "1", "1"]) == 0
    assert "test: 2 rows" in capsys.readouterr().out
    for name in ("essen", "mast", "sc", "std"):
        assert (tmp_path / name / "README.md").is_file()
    assert "REAL" in (tmp_path / "mast" / "README.md").read_text()
    assert np.isclose(sum(load_from_disk(str(tmp_path / "sc")).num_rows.values()), 30)
