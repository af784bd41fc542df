"""Pair datasets and collation: labelled partners, unlabelled crops, determinism, workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset

from wav2tok_hf.data import MixedPairDataset, PairDataset, collate

SR = 8000


def _corpus(labels, seconds=4.0):
    rng = np.random.default_rng(0)
    return Dataset.from_dict({
        "audio": [{"array": rng.standard_normal(int(seconds * SR)).astype(np.float32), "sampling_rate": SR} for _ in labels],
        "label": labels,
        "source_id": [f"clip{i}" for i in range(len(labels))],
    })


def test_labelled_pairs_share_the_label(essen_small):
    pairs = PairDataset(essen_small["train"], sampling_rate=SR)
    assert pairs.mode == "labelled" and len(pairs) == essen_small["train"].num_rows
    for index in range(4):
        item = pairs[index]
        assert item["label"] == essen_small["train"][pairs.anchors[index]]["label"]
        assert item["input_values"].dtype == np.float32 and item["input_values_prime"].dtype == np.float32
        assert not np.array_equal(item["input_values"], item["input_values_prime"])


def test_labelled_mode_skips_singletons_and_needs_repeats():
    pairs = PairDataset(_corpus(["a", "a", "b"]), sampling_rate=SR)
    assert pairs.anchors == [0, 1]
    with pytest.raises(ValueError, match="recorded twice"):
        PairDataset(_corpus(["a", "b"]), mode="labelled")
    assert PairDataset(_corpus(["a", "b"])).mode == "unlabelled"


def test_unlabelled_crops_and_augments():
    pairs = PairDataset(_corpus(["a", "b"]), sampling_rate=SR, mode="unlabelled", crop_s=3.0)
    item = pairs[1]
    assert item["input_values"].shape == (3 * SR,) and item["label"] == "b"
    assert 3 * SR / 1.5 - 1 <= len(item["input_values_prime"]) <= 3 * SR / 0.9 + 1


def test_deterministic_per_seed_epoch_index():
    corpus = _corpus(["a", "a", "b", "b"])
    first, second = PairDataset(corpus, mode="unlabelled", seed=3), PairDataset(corpus, mode="unlabelled", seed=3)
    np.testing.assert_array_equal(first[2]["input_values_prime"], second[2]["input_values_prime"])
    before = first[2]["input_values_prime"]
    first.set_epoch(1)
    assert not np.array_equal(before, first[2]["input_values_prime"])


def test_clip_shorter_than_crop_is_reported():
    pairs = PairDataset(_corpus(["a"], seconds=1.0), sampling_rate=SR, mode="unlabelled", crop_s=3.0)
    with pytest.raises(ValueError, match="clip0 is 1.00 s long, shorter than crop_s=3.0"):
        pairs[0]


def test_bad_construction():
    with pytest.raises(ValueError, match="empty"):
        PairDataset(_corpus([]))
    with pytest.raises(ValueError, match="mode"):
        PairDataset(_corpus(["a"]), mode="both")
    with pytest.raises(ValueError, match="no 'wave' column"):
        PairDataset(_corpus(["a"]), audio_column="wave")
    with pytest.raises(IndexError):
        PairDataset(_corpus(["a"]), mode="unlabelled")[1]


def test_labelled_views_can_be_trimmed_to_the_word():
    rng = np.random.default_rng(0)
    silence, word = np.zeros(SR // 2, dtype=np.float32), rng.standard_normal(SR // 4).astype(np.float32)
    padded = np.concatenate([silence, word, silence])
    corpus = Dataset.from_dict({"audio": [{"array": padded, "sampling_rate": SR}] * 2, "label": ["a", "a"]})
    trimmed = PairDataset(corpus, sampling_rate=SR, mode="labelled", crop_s=None, trim_probability=1.0)[0]
    for view in ("input_values", "input_values_prime"):  # within one 512-sample analysis frame of the word
        assert abs(len(trimmed[view]) - SR // 4) <= 512
    kept = PairDataset(corpus, sampling_rate=SR, mode="labelled", crop_s=None)[0]
    assert len(kept["input_values"]) == len(padded)
    with pytest.raises(ValueError, match="trim_probability"):
        PairDataset(corpus, trim_probability=1.5)


def test_mixed_pairs_take_each_source_its_share_per_epoch():
    words = PairDataset(_corpus(["a", "a", "b", "b"], seconds=0.5), sampling_rate=SR, mode="labelled", crop_s=None)
    crops = PairDataset(_corpus(["u", "v", "w"]), sampling_rate=SR, mode="unlabelled", crop_s=1.0)
    mixed = MixedPairDataset([words, crops], sizes=[2, 7], seed=1)
    assert len(mixed) == 9
    labels = [mixed[i]["label"] for i in range(9)]
    assert set(labels[:2]) <= {"a", "b"} and set(labels[2:]) <= {"u", "v", "w"}
    assert sorted(labels[2:5]) == ["u", "v", "w"]  # a permutation first, repeated when the share exceeds the source
    assert all(len(mixed[i]["input_values"]) == SR for i in range(2, 9))
    again = MixedPairDataset([words, crops], sizes=[2, 7], seed=1)
    np.testing.assert_array_equal(again[4]["input_values_prime"], mixed[4]["input_values_prime"])
    before = [mixed[i]["label"] for i in range(2, 9)], mixed[4]["input_values_prime"]
    mixed.set_epoch(1)
    assert crops.epoch == 1 and words.epoch == 1
    after = [mixed[i]["label"] for i in range(2, 9)], mixed[4]["input_values_prime"]
    assert before[0] != after[0] or not np.array_equal(before[1], after[1])
    assert len(MixedPairDataset([words, crops])) == len(words) + len(crops)
    with pytest.raises(ValueError, match="one size per source"):
        MixedPairDataset([words, crops], sizes=[2])
    with pytest.raises(ValueError, match="positive number"):
        MixedPairDataset([words], sizes=[0])
    with pytest.raises(IndexError):
        mixed[9]


def test_collate_and_workers_match_direct_access():
    pairs = PairDataset(_corpus(["a", "a", "b", "b"]), mode="unlabelled", crop_s=2.0, seed=1)
    loader = torch.utils.data.DataLoader(pairs, batch_size=2, num_workers=2, collate_fn=collate)
    batches = list(loader)
    batch = batches[0]
    assert batch["input_values"].shape == (2, 2 * SR) and batch["labels"] == ["a", "a"]
    assert batch["input_lengths_prime"].tolist() == [len(pairs[0]["input_values_prime"]), len(pairs[1]["input_values_prime"])]
    np.testing.assert_array_equal(batch["input_values_prime"][1, : batch["input_lengths_prime"][1]].numpy(),
                                  pairs[1]["input_values_prime"])
    with pytest.raises(ValueError, match="empty batch"):
        collate([])
