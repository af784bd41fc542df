"""speechocean762 recipe on a tiny fake folder: speaker-disjoint splits, word cuts, utterance times, STD splits."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from wav2tok_hf.audio_utils import load_audio
from wav2tok_hf.data import load_speechocean762, prepare_speechocean762, read_word_alignments, speechocean762_std_splits
from wav2tok_hf.data.cli import main as data_main

SR = 16000
SPEAKERS = ("0001", "0002", "0003", "0004", "0005", "0006")
PROMPTS = (("ONE TWO THREE", (0.2, 0.5, 0.8, 1.1)), ("WE CALL IT", (0.3, 0.6, 0.9, 1.4)))


def _fake_folder(root, speakers=SPEAKERS):
    """Each speaker reads both prompts: every word is a tone whose frequency encodes the word, at the aligned time."""
    rng = np.random.default_rng(0)
    manifest = ["utt\tspeaker\tsplit\tgender\tage\tpath\tsr\tduration\ttext"]
    alignments = ["utt\tspeaker\tsplit\tword_index\tword\tstart\tend\tacoustic_score"]
    for s, speaker in enumerate(speakers):
        (root / "WAVE" / f"SPEAKER{speaker}").mkdir(parents=True)
        for p, (text, bounds) in enumerate(PROMPTS):
            utt = f"{speaker}{p:05d}"
            wave = 0.001 * rng.standard_normal(int(1.6 * SR))
            for k, word in enumerate(text.split()):
                a, b = int(bounds[k] * SR), int(bounds[k + 1] * SR)
                wave[a:b] += 0.3 * np.sin(2 * np.pi * (200 + 100 * (k + 3 * p)) * np.arange(b - a) / SR)
                alignments.append(f"{utt}\t{speaker}\ttrain\t{k}\t{word}\t{bounds[k]}\t{bounds[k + 1]}\t0.1")
            path = f"WAVE/SPEAKER{speaker}/{utt}.flac"
            sf.write(root / path, wave, SR, subtype="PCM_16")
            manifest.append(f"{utt}\t{speaker}\ttrain\t{'mf'[s % 2]}\t{20 + s}\t{path}\t{SR}\t1.6\t{text}")
    (root / "manifest.tsv").write_text("\n".join(manifest) + "\n")
    (root / "word_alignments.tsv").write_text("\n".join(alignments) + "\n")
    return root


@pytest.fixture(scope="module")
def ocean_dir(tmp_path_factory):
    return _fake_folder(tmp_path_factory.mktemp("ocean"))


@pytest.fixture(scope="module")
def ocean(ocean_dir):
    return prepare_speechocean762(ocean_dir, split_fractions=(0.5, 0.25, 0.25), seed=0)


def test_splits_are_speaker_disjoint_and_pair_words_with_utterances(ocean):
    speakers = {split: set(ocean[split]["speaker"]) for split in ocean}
    assert not (speakers["train"] & speakers["validation"] or speakers["train"] & speakers["test"]
                or speakers["validation"] & speakers["test"])
    for split in ("train", "validation", "test"):
        assert speakers[split] == speakers[f"{split}_utterances"]
    assert sum(len(speakers[s]) for s in ("train", "validation", "test")) == len(SPEAKERS)
    assert sum(ocean[s].num_rows for s in ("train", "validation", "test")) == 6 * len(SPEAKERS)
    assert set(ocean["train"]["kind"]) == {"clip"} and set(ocean["train_utterances"]["kind"]) == {"reference"}


def test_word_clips_are_cut_at_the_aligned_times_with_padding(ocean):
    rows = {row["source_id"]: row for row in ocean["train"]}
    row = rows[next(iter(sorted(rows)))]
    wave, rate = load_audio(row["audio"])
    assert rate == SR
    assert len(wave) == pytest.approx((row["end_s"] - row["start_s"] + 2 * 0.05) * SR, abs=2)
    expected = 200 + 100 * (row["word_index"] + 3 * int(row["utterance_id"][-1]))
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.fft.rfftfreq(len(wave), 1 / SR)[spectrum.argmax()] == pytest.approx(expected, abs=8)
    assert {r["category"] for r in rows.values()} == {"digit", "word"}
    assert {r["label"] for r in rows.values() if r["category"] == "digit"} == {"ONE", "TWO", "THREE"}


def test_utterances_keep_word_times_and_the_original_audio(ocean, ocean_dir):
    row = ocean["test_utterances"][0]
    assert row["word_labels"] == row["label"].split()
    assert row["word_starts_s"][1:] == pytest.approx(row["word_ends_s"][:-1])
    wave, _ = load_audio(row["audio"])
    original, _ = sf.read(ocean_dir / "WAVE" / f"SPEAKER{row['speaker']}" / f"{row['source_id']}.flac", dtype="float32")
    np.testing.assert_array_equal(wave, original)
    assert row["gender"] in ("m", "f") and row["age"] >= 20


def test_seeded_and_min_word_filter(ocean_dir, ocean):
    again = prepare_speechocean762(ocean_dir, split_fractions=(0.5, 0.25, 0.25), seed=0)
    assert again["test"]["source_id"] == ocean["test"]["source_id"]
    other = prepare_speechocean762(ocean_dir, split_fractions=(0.5, 0.25, 0.25), seed=5)
    assert set(other["test"]["speaker"]) != set(ocean["test"]["speaker"]) or other["test"]["source_id"] != ocean[
        "test"]["source_id"]
    long_only = prepare_speechocean762(ocean_dir, split_fractions=(0.5, 0.25, 0.25), min_word_s=0.4, seed=0)
    assert set(long_only["train"]["label"]) == {"IT"}  # the only word longer than 0.4 s


def test_std_splits_keep_query_speakers_out_of_the_utterances(ocean_dir):
    data = prepare_speechocean762(ocean_dir, split_fractions=(0.66, 0.17, 0.17), seed=0)
    utterances, queries = speechocean762_std_splits(data, "train", query_speaker_fraction=0.5, min_query_s=0.0)
    assert not set(utterances["speaker"]) & set(queries["speaker"])
    searched = {w for words in utterances["word_labels"] for w in words}
    assert set(queries["label"]) == searched
    assert max(np.unique(queries["label"], return_counts=True)[1]) <= 2
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        speechocean762_std_splits(data, "train", query_speaker_fraction=1.0)


def test_bad_inputs_are_named(tmp_path, ocean_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prepare_speechocean762(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no manifest.tsv"):
        prepare_speechocean762(tmp_path)
    bad = tmp_path / "bad.tsv"
    bad.write_text("utt\tword\tstart\tend\n000010\tWE\t0.5\t0.2\n")
    with pytest.raises(ValueError, match="line 2: word 'WE' has start 0.5 and end 0.2"):
        read_word_alignments(bad)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        load_speechocean762(ocean_dir, alignments=tmp_path / "none.tsv")
    with pytest.raises(ValueError, match="at least 3 speakers"):
        prepare_speechocean762(ocean_dir, max_speakers=2)


def test_cli_builds_and_saves_with_a_card(ocean_dir, tmp_path, capsys):
    out = tmp_path / "built"
    assert data_main(["speechocean762", str(out), "--source", str(ocean_dir), "--split-fractions", "0.5", "0.25",
                      "0.25"]) == 0
    assert "test_utterances" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "REAL recorded speech" in card and "MACHINE forced alignments" in card
    with pytest.raises((FileExistsError, ValueError), match="already exists"):
        data_main(["speechocean762", str(out), "--source", str(ocean_dir)])
