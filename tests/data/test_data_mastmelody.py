"""MASTmelody recipes on the shared copy and on small fabricated folders (bad inputs)."""

from __future__ import annotations

import shutil
import tarfile

import numpy as np
import pytest
from datasets import Audio, load_from_disk

from wav2tok_hf.audio_utils import load_audio
from wav2tok_hf.data import prepare_mastmelody, prepare_mastmelody_samples
from wav2tok_hf.data.cli import main as data_cli
from wav2tok_hf.data.mastmelody import SYNTHESIZERS
from wav2tok_hf.data.synth import VOICE_TIMBRES


def _write_track(path, midi=60.0, seconds=1.0):
    times = np.arange(0, seconds, 0.0029)
    f0 = np.where((times > 0.1) & (times < seconds - 0.1), 440 * 2 ** ((midi - 69) / 12), 0.0)
    np.savetxt(path, np.stack([times, f0], axis=1))


def _columns(data):
    """Every column of every split, the audio as its encoded bytes (to compare builds exactly)."""
    encoded = {name: split.cast_column("audio", Audio(decode=False)) for name, split in data.items()}
    return {name: {column: list(split[column]) for column in split.column_names} for name, split in encoded.items()}


@pytest.fixture
def fake_mast(tmp_path):
    folder = tmp_path / "mast"
    (folder / "f0data").mkdir(parents=True)
    for melody in ("1_mel1", "2_mel1", "3_mel1"):
        _write_track(folder / "f0data" / f"{melody}_per11_pass.f0s.txt")
        _write_track(folder / "f0data" / f"{melody}_ref11.f0s.txt", midi=64)
    return folder


def test_build_from_shared_archive(mast_dir):
    before = sorted(p.name for p in mast_dir.iterdir())
    data = prepare_mastmelody(mast_dir, max_melodies=3, max_files_per_melody=2, seed=0)
    assert sorted(p.name for p in mast_dir.iterdir()) == before  # nothing extracted into the source
    melodies = [set(data[split]["label"]) for split in ("train", "validation", "test")]
    assert all(len(m) == 1 for m in melodies) and len(set.union(*melodies)) == 3
    for split in data.values():
        assert split.features["audio"] == Audio(sampling_rate=8000)
        assert sorted(split["kind"]) == ["query", "query", "reference", "reference"]
        for row in split:
            assert row["passed"] is None if row["kind"] == "reference" else isinstance(row["passed"], bool)
            assert row["timbre"] == "piano" if row["kind"] == "reference" else row["timbre"] != "piano"
            wave, rate = load_audio(row["audio"])
            assert rate == 8000 and len(wave) > rate and np.abs(wave).max() > 0.1
    again = prepare_mastmelody(mast_dir, max_melodies=3, max_files_per_melody=2, seed=0, synthesizer="wav2tok")
    assert _columns(again) == _columns(data)
    # the vowels drawn by the default synthesiser (released corpora and models depend on them)
    assert [data[split]["timbre"] for split in ("train", "validation", "test")] == [
        ["o", "a", "piano", "piano"], ["o", "o", "piano", "piano"], ["e", "u", "piano", "piano"]]


def test_real_samples(mast_dir):
    data = prepare_mastmelody_samples(mast_dir)
    test = data["test"]
    assert test.num_rows == 8 and set(test["label"]) == {"51_mel1"}
    assert test["kind"].count("query") == 4 and set(test["timbre"]) == {"real"}
    assert load_audio(test[0]["audio"])[1] == 8000


def test_fabricated_folder_and_archive(fake_mast, tmp_path):
    data = prepare_mastmelody(fake_mast)
    assert sum(data.num_rows.values()) == 6
    archived = tmp_path / "archived"
    archived.mkdir()
    with tarfile.open(archived / "f0data.tar.xz", "w:xz") as archive:
        archive.add(fake_mast / "f0data", arcname="f0data")
    assert prepare_mastmelody(archived)["test"]["source_id"] == data["test"]["source_id"]


@pytest.mark.parametrize("synthesizer", SYNTHESIZERS[1:])
def test_mir_eval_synthesizer(fake_mast, tmp_path, synthesizer):
    default = prepare_mastmelody(fake_mast, tmp_path / "default")
    assert _columns(prepare_mastmelody(fake_mast, synthesizer="wav2tok")) == _columns(default)
    assert {t for split in default.values() for t in split["timbre"]} <= {"piano", *VOICE_TIMBRES}
    data = prepare_mastmelody(fake_mast, tmp_path / "other", synthesizer=synthesizer)
    ours, theirs = _columns(default), _columns(data)
    for split in ours:
        assert theirs[split]["timbre"] == [synthesizer] * data[split].num_rows
        assert {k: v for k, v in theirs[split].items() if k not in ("audio", "timbre")} == {
            k: v for k, v in ours[split].items() if k not in ("audio", "timbre")}  # same rows, labels, splits
        for mine, other in zip(default[split], data[split]):
            wave, other_wave = load_audio(mine["audio"])[0], load_audio(other["audio"])[0]
            assert len(other_wave) == len(wave) and not np.allclose(other_wave, wave)
            assert np.abs(other_wave).max() == pytest.approx(0.7, abs=1e-3)
    card = (tmp_path / "other" / "README.md").read_text()
    assert f"mir_eval.sonify.pitch_contour's {synthesizer.removeprefix('mir_eval-')} wave" in card
    assert f"synthesizer={synthesizer!r}" in card
    assert "synthesizer" not in (tmp_path / "default" / "README.md").read_text()


def test_synthesizer_on_the_command_line(fake_mast, tmp_path):
    assert data_cli(["mastmelody", str(tmp_path / "out"), "--source", str(fake_mast), "--synthesizer",
                     "mir_eval-square"]) == 0
    assert set(load_from_disk(str(tmp_path / "out"))["test"]["timbre"]) == {"mir_eval-square"}


def test_unknown_synthesizer_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"synthesizer='fluidsynth'; accepted: \('wav2tok', 'mir_eval-sine'"):
        prepare_mastmelody(tmp_path / "nope", synthesizer="fluidsynth")  # not the missing folder's error


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*f0data.tar.xz"):
        prepare_mastmelody(tmp_path / "nope")


def test_folder_without_pitch_tracks(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither f0data.tar.xz nor f0data"):
        prepare_mastmelody(tmp_path)
    (tmp_path / "f0data").mkdir()
    with pytest.raises(ValueError, match="no pitch tracks"):
        prepare_mastmelody(tmp_path)


def test_corrupt_track_and_archive(fake_mast, tmp_path):
    (fake_mast / "f0data" / "1_mel1_per12_fail.f0s.txt").write_text("0.0 abc\n0.1 def\n")
    with pytest.raises(ValueError, match="unreadable pitch track .*1_mel1_per12_fail"):
        prepare_mastmelody(fake_mast)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "f0data.tar.xz").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="cannot extract"):
        prepare_mastmelody(broken)


def test_unexpected_file_name_and_too_few_melodies(fake_mast):
    shutil.rmtree(fake_mast / "f0data")
    (fake_mast / "f0data").mkdir()
    _write_track(fake_mast / "f0data" / "1_mel1_per11_pass.f0s.txt")
    _write_track(fake_mast / "f0data" / "2_mel1_per11_pass.f0s.txt")
    with pytest.raises(ValueError, match="at least 3 distinct melodies"):
        prepare_mastmelody(fake_mast)
    _write_track(fake_mast / "f0data" / "weird.f0s.txt")
    with pytest.raises(ValueError, match="unexpected MASTmelody file name"):
        prepare_mastmelody(fake_mast)
