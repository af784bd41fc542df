"""Speech Commands and spoken-term-detection recipes: speaker-disjoint splits, sources, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from datasets import Audio, ClassLabel, Dataset, Features, Value

from wav2tok_hf.audio_utils import load_audio
from wav2tok_hf.data import load_speech_commands_clips, prepare_speech_commands, prepare_std


def _speakers(split):
    return {s for s in split["speaker"] if s}


def test_speech_commands_slice(speech_dir):
    data = prepare_speech_commands(speech_dir, max_clips=40, seed=0)
    assert sum(data.num_rows.values()) == 40
    train, val, test = (_speakers(data[s]) for s in ("train", "validation", "test"))
    assert not (train & val or train & test or val & test)
    for split in data.values():
        assert split.features["audio"] == Audio(sampling_rate=16000)
        assert set(split["kind"]) == {"clip"}
        assert "_unknown_" not in split["label"] and "_silence_" not in split["label"]
    row = data["train"][0]
    assert row["category"] in (row["label"], "_unknown_")
    wave, rate = load_audio(row["audio"])
    assert rate == 16000 and 0 < len(wave) <= 16000
    again = prepare_speech_commands(speech_dir, max_clips=40, seed=0)
    assert again["train"]["source_id"] == data["train"]["source_id"]


def test_speech_commands_filters_and_resampling(speech_dir):
    data = prepare_speech_commands(speech_dir, max_clips=40, include_unknown=False, include_silence=True,
                                   sampling_rate=8000, seed=3)
    categories = {c for split in data.values() for c in split["category"]}
    assert "_unknown_" not in categories and "_silence_" in categories
    row = data["test"][0]
    assert load_audio(row["audio"])[1] == 8000


def _official_layout(root, corrupt=False):
    rng = np.random.default_rng(0)
    for i, speaker in enumerate(["aa01", "bb02", "cc03", "dd04"]):
        for word in ("yes", "no"):
            (root / word).mkdir(parents=True, exist_ok=True)
            sf.write(root / word / f"{speaker}_nohash_0.wav", 0.1 * rng.standard_normal(16000), 16000)
        (root / "_unknown_").mkdir(exist_ok=True)
        sf.write(root / "_unknown_" / f"tree_{speaker}_nohash_{i}.wav", 0.1 * rng.standard_normal(8000), 16000)
    if corrupt:
        (root / "yes" / "ee05_nohash_0.wav").write_bytes(b"RIFF....garbage")


def test_official_layout_without_manifest(tmp_path):
    _official_layout(tmp_path)
    clips = load_speech_commands_clips(tmp_path)
    assert {c.word for c in clips} == {"yes", "no", "tree"}
    assert {c.category for c in clips} == {"yes", "no", "_unknown_"}
    data = prepare_speech_commands(tmp_path)
    assert sum(data.num_rows.values()) == 12


def test_hub_source_is_normalised(monkeypatch):
    import datasets

    features = Features({"file": Value("string"), "audio": Audio(sampling_rate=16000),
                         "label": ClassLabel(names=["yes", "no", "tree", "_silence_"]), "is_unknown": Value("bool"),
                         "speaker_id": Value("string"), "utterance_id": Value("int8")})
    rng = np.random.default_rng(0)
    rows = {"file": [], "audio": [], "label": [], "is_unknown": [], "speaker_id": [], "utterance_id": []}
    for i in range(12):
        rows["file"].append(f"f{i}.wav")
        rows["audio"].append({"array": 0.1 * rng.standard_normal(16000), "sampling_rate": 16000})
        rows["label"].append(i % 3)
        rows["is_unknown"].append(i % 3 == 2)
        rows["speaker_id"].append(f"spk{i % 4}")
        rows["utterance_id"].append(i // 4)
    fake = Dataset.from_dict(rows, features=features)
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: calls.append((args, kwargs)) or fake)
    data = prepare_speech_commands("google/speech_commands", hub_config="v0.02")
    assert calls == [(("google/speech_commands", "v0.02"), {"split": "test"})]
    labels = {label for split in data.values() for label in split["label"]}
    assert labels == {"yes", "no", "tree"}
    assert {c for split in data.values() for c in split["category"]} == {"yes", "no", "_unknown_"}


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prepare_speech_commands(tmp_path / "missing")
    with pytest.raises(ValueError, match="no clips found"):
        prepare_speech_commands(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        prepare_speech_commands(tmp_path / "file.txt")


def test_corrupt_clip_is_named(tmp_path):
    _official_layout(tmp_path, corrupt=True)
    with pytest.raises(ValueError, match="unreadable clip 'yes/ee05_nohash_0'"):
        prepare_speech_commands(tmp_path)


def test_std_utterances_and_queries(speech_dir):
    data = prepare_std(speech_dir, num_utterances=(2, 1, 2), max_clips=600, seed=0)
    assert set(data) == {"train", "validation", "test", "train_queries", "validation_queries", "test_queries"}
    for split in ("train", "validation", "test"):
        utterances, queries = data[split], data[f"{split}_queries"]
        assert set(utterances["kind"]) == {"reference"} and set(queries["kind"]) == {"query"}
        utterance_speakers = {s for speakers in utterances["speakers"] for s in speakers}
        assert not utterance_speakers & set(queries["speaker"])
        assert set(queries["label"]) <= {w for words in utterances["word_labels"] for w in words}
        for row in utterances:
            words, starts, ends = row["word_labels"], np.array(row["word_starts_s"]), np.array(row["word_ends_s"])
            assert 3 <= len(words) <= 8 and len(set(words)) == len(words) == len(set(row["speakers"]))
            assert row["label"] == " ".join(words)
            wave, rate = load_audio(row["audio"])
            assert rate == 16000 and np.all(starts < ends) and np.all(ends[:-1] <= starts[1:])
            assert ends[-1] <= len(wave) / rate
            inside = np.concatenate([wave[int(s * rate) : int(e * rate)] for s, e in zip(starts, ends)])
            outside = wave[: int(starts[0] * rate)]
            assert np.sqrt(np.mean(inside**2)) > 2 * np.sqrt(np.mean(outside**2))
    again = prepare_std(speech_dir, num_utterances=(2, 1, 2), max_clips=600, seed=0)
    assert again["test"]["word_source_ids"] == data["test"]["word_source_ids"]
    np.testing.assert_array_equal(load_audio(again["test"][0]["audio"])[0], load_audio(data["test"][0]["audio"])[0])


def test_std_bad_arguments(speech_dir):
    with pytest.raises(ValueError, match="words_per_utterance"):
        prepare_std(speech_dir, words_per_utterance=(4, 2))
    with pytest.raises(ValueError, match="query_speaker_fraction"):
        prepare_std(speech_dir, query_speaker_fraction=1.0)
    with pytest.raises(ValueError, match="at least 3 distinct speakers"):
        prepare_std(speech_dir, max_clips=2)
