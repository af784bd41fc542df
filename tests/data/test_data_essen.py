"""Essen query-by-humming recipe: columns, splits, determinism, rendering and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Audio, load_from_disk

from wav2tok_hf.audio_utils import load_audio
from wav2tok_hf.data import parse_melody, prepare_essen
from wav2tok_hf.data.essen import ESSEN_FEATURES


def test_columns_kinds_and_audio_feature(essen_small):
    assert sorted(essen_small) == ["test", "train", "validation"]
    for split, songs in zip(("train", "validation", "test"), (4, 1, 1)):
        data = essen_small[split]
        assert set(data.column_names) == set(ESSEN_FEATURES)
        assert data.features["audio"] == Audio(sampling_rate=8000)
        assert data.num_rows == songs * 3
        assert data["kind"].count("reference") == songs
        assert len(set(data["source_id"])) == data.num_rows
        assert data["label"] == data["song_id"]


def test_splits_are_disjoint_by_song(essen_small):
    songs = [set(essen_small[split]["label"]) for split in ("train", "validation", "test")]
    assert not (songs[0] & songs[1] or songs[0] & songs[2] or songs[1] & songs[2])


def test_queries_follow_the_singer_ranges(essen_small):
    rows = [row for row in essen_small["train"].remove_columns("audio") if row["kind"] == "query"]
    assert all(-5 <= row["key_shift"] <= 6 and 0.8 - 1e-6 <= row["tempo"] <= 1.25 + 1e-6 for row in rows)
    reference = next(row for row in essen_small["train"] if row["kind"] == "reference")
    wave, rate = load_audio(reference["audio"])
    assert rate == 8000 and 4.0 < len(wave) / rate < 12.0


def test_reference_pitch_matches_its_first_note(essen_small):
    row = essen_small["test"][0]
    assert row["kind"] == "reference"
    wave, rate = load_audio(row["audio"])
    first = wave[int(0.03 * rate) : int((row["note_durations_s"][0] - 0.03) * rate)]
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first)), n=1 << 16))
    peak_hz = np.argmax(spectrum) * rate / (1 << 16)
    expected = 440.0 * 2 ** ((row["note_midi"][0] - 69) / 12)
    assert abs(12 * np.log2(peak_hz / expected)) < 0.3


def test_deterministic_given_seed(essen_small):
    again = prepare_essen(num_songs=(4, 1, 1), queries_per_song=2, seed=0)
    assert again["train"]["source_id"] == essen_small["train"]["source_id"]
    for i in (0, 1, 5):
        a, _ = load_audio(again["train"][i]["audio"])
        b, _ = load_audio(essen_small["train"][i]["audio"])
        np.testing.assert_array_equal(a, b)
    other = prepare_essen(num_songs=(1, 1, 1), queries_per_song=0, seed=1)
    assert other["train"]["label"] != essen_small["train"]["label"][:1]


def test_saved_with_card(tmp_path):
    out = tmp_path / "essen"
    prepare_essen(out, num_songs=(1, 1, 1), queries_per_song=1, full_songs=True, random_excerpt=True)
    card = (out / "README.md").read_text()
    assert "SYNTHESISED" in card and "| train | 2 |" in card
    assert load_from_disk(str(out))["test"].num_rows == 2


def test_parse_melody_returns_pitches_and_rests():
    midi, quarters = parse_melody("X:1\nT:t\nM:4/4\nL:1/4\nK:C\nC D z E2|\n")
    assert np.isnan(midi[2]) and midi[[0, 1, 3]].tolist() == [60, 62, 64]
    assert quarters.tolist() == [1.0, 1.0, 1.0, 2.0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_songs=(0, 0, 0)), "num_songs"),
        (dict(num_songs=(1, 1)), "num_songs"),
        (dict(queries_per_song=-1), "queries_per_song"),
        (dict(excerpt_s=0), "excerpt_s"),
        (dict(random_excerpt=True), "full_songs=True"),
        (dict(num_songs=(9000, 0, 0)), "bundled"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prepare_essen(**kwargs)
