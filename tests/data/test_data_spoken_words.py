"""prepare_spoken_words: your own labelled word clips (e.g. a spoken-digits corpus at 8 kHz) from a folder, with
speaker-disjoint splits and clear errors for names that do not say the word and the speaker."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from wav2tok_hf.data import DIGITS_PATTERN, load_spoken_word_clips, prepare_spoken_words

SPEAKERS = ("ann", "bob", "cy", "dee", "eve")


@pytest.fixture
def digits(tmp_path):
    """Five speakers saying 0 and 1 twice, at 8 kHz, named as the Free Spoken Digit Dataset names its files."""
    rng = np.random.default_rng(0)
    for speaker in SPEAKERS:
        for digit in "01":
            for take in range(2):
                wave = 0.2 * rng.standard_normal(2400).astype(np.float32)
                sf.write(tmp_path / f"{digit}_{speaker}_{take}.wav", wave, 8000)
    return tmp_path


def test_folder_labels_speakers_and_speaker_disjoint_splits(digits):
    ds = prepare_spoken_words(digits, split_fractions=(0.6, 0.2, 0.2), seed=0)
    assert sum(ds.num_rows.values()) == 20
    speakers = {split: set(ds[split]["speaker"]) for split in ds}
    assert speakers["train"] | speakers["validation"] | speakers["test"] == set(SPEAKERS)
    assert not (speakers["train"] & speakers["test"]) and not (speakers["validation"] & speakers["test"])
    row = ds["test"][0]
    assert row["label"] in ("0", "1") and row["kind"] == "clip" and row["take"] in (0, 1)
    assert row["audio"]["sampling_rate"] == 16000 and len(row["audio"]["array"]) == 4800  # 0.3 s resampled to 16 kHz
    assert prepare_spoken_words(digits, seed=0)["test"]["source_id"] == ds["test"]["source_id"]  # deterministic


def test_pattern_reads_subfolder_layouts(tmp_path):
    for speaker in ("s1", "s2", "s3"):
        (tmp_path / speaker).mkdir()
        sf.write(tmp_path / speaker / "yes.wav", np.zeros(800, np.float32), 16000)
    clips = load_spoken_word_clips(tmp_path, pattern=r"(?P<speaker>[^/]+)/(?P<label>\w+)")
    assert sorted((c.speaker, c.word, c.take) for c in clips) == [("s1", "yes", 0), ("s2", "yes", 0), ("s3", "yes", 0)]


@pytest.mark.parametrize("pattern, message", [
    ("(?P<label>", "is not a regular expression"),
    (r"(?P<label>\d)_.*", "needs the named groups 'label' and 'speaker'"),
    (r"(?P<label>\d)_(?P<speaker>[a-z]+)_1", "do not match pattern")])
def test_bad_patterns_and_unmatched_files_are_clear_errors(digits, pattern, message):
    with pytest.raises(ValueError, match=message):
        load_spoken_word_clips(digits, pattern=pattern)


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="spoken-words"):
        load_spoken_word_clips(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no clips found"):
        load_spoken_word_clips(tmp_path)
    assert "(?P<label>" in DIGITS_PATTERN and "(?P<speaker>" in DIGITS_PATTERN
