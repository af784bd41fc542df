"""Saving never loses a user's files (issue 22, defect 1): only the files a save owns are written, file by file
atomically, with normal permissions; a file or a non-model folder is refused unless overwriting is asked for."""

from __future__ import annotations

import os
import stat

import pytest

from wav2tok_hf import Wav2TokConfig, Wav2TokModel
from wav2tok_hf.cli import main
from wav2tok_hf.saving import check_save_target, save_folder


def _write_model(folder: str) -> None:
    Wav2TokModel(Wav2TokConfig(sampling_rate=8000, hidden_size=16, embedding_dim=8, codebook_size=4)).save_pretrained(folder)


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_saving_into_a_model_folder_keeps_other_files_and_uses_normal_modes(tmp_path, umask_022):
    target = tmp_path / "model"
    save_folder(_write_model, target)
    (target / "README.md").write_text("my card")
    (target / "notes").mkdir()
    written = save_folder(_write_model, target)
    assert {"config.json", "model.safetensors"} <= set(written)
    assert (target / "README.md").read_text() == "my card" and (target / "notes").is_dir()
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert all(stat.S_IMODE((target / name).stat().st_mode) == 0o644 for name in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary sibling left behind


def test_a_failed_save_leaves_the_folder_as_it_was(tmp_path):
    target = tmp_path / "model"
    save_folder(_write_model, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(folder):
        _write_model(folder)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_folder(broken, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_files_and_foreign_folders_are_refused_unless_asked(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    with pytest.raises(ValueError, match="is an existing file"):
        save_folder(_write_model, a_file)
    with pytest.raises(ValueError, match="which is a file"):
        check_save_target(a_file / "model")
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_text("meow")
    with pytest.raises(ValueError, match="non-empty folder that holds no wav2tok model"):
        save_folder(_write_model, foreign)
    assert a_file.read_text() == "keep me" and sorted(os.listdir(foreign)) == ["cat.jpg"]
    save_folder(_write_model, foreign, overwrite=True)  # asked: the model is added, the photo kept
    assert (foreign / "cat.jpg").read_text() == "meow" and (foreign / "config.json").is_file()
    save_folder(_write_model, a_file, overwrite=True)
    assert (a_file / "config.json").is_file()


def test_demo_refuses_a_file_or_bad_report_before_any_work(tmp_path, capsys, monkeypatch):
    import wav2tok_hf.training.experiment as experiment

    monkeypatch.setattr(experiment, "run_training", lambda *a, **k: pytest.fail("training started"))
    a_file = tmp_path / "model.txt"
    a_file.write_text("keep me")
    assert main(["demo", "--output-dir", str(a_file)]) == 2
    assert "is an existing file" in capsys.readouterr().err and a_file.read_text() == "keep me"
    assert main(["demo", "--output-dir", str(tmp_path / "m"), "--report", str(tmp_path / "missing" / "x.md")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert main(["demo", "--output-dir", str(tmp_path / "m"), "training.learning_rate=.inf"]) == 2
    assert "learning_rate=inf; expected > 0 and finite" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
