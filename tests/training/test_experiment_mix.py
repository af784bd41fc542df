"""`data.mix`: pairs of several corpora (or splits) in one run, validation extended across corpora."""

from __future__ import annotations

import pytest
from conftest import tiny_experiment

from wav2tok_hf.data import MixedPairDataset
from wav2tok_hf.training import load_experiment
from wav2tok_hf.training.experiment import check_data_section, prepare_training


def test_mix_samples_across_corpora_and_validates_on_each(tmp_path, essen_cache):
    alone, _ = prepare_training(load_experiment(tiny_experiment(tmp_path, essen_cache, name="alone")))
    mix = [{"corpus": "essen", "cache_dir": str(essen_cache), "split": "train", "pairs_per_epoch": 5,
            "min_seconds": 1.0, "pairs": {"mode": "unlabelled", "crop_s": 1.0}, "validation": True}]
    config = tiny_experiment(tmp_path, essen_cache, name="mixed",
                             data={"pairs_per_epoch": 3, "mix": mix})
    trainer, _ = prepare_training(load_experiment(config))
    pairs = trainer.train_dataset
    assert isinstance(pairs, MixedPairDataset) and pairs.sizes == [3, 5] and len(pairs) == 8
    assert pairs[7]["input_values"].shape == pairs[0]["input_values"].shape  # 1 s crops from both sources
    single, merged = alone.eval_set, trainer.eval_set
    assert len(merged.queries) == 2 * len(single.queries) and len(merged.database) == 2 * len(single.database)
    assert all(label.startswith("essen:") for label in merged.query_labels + merged.database_labels)
    assert trainer.train().steps == 2


@pytest.mark.parametrize("entry, message", [
    ({"corpus": "nope", "source": "x"}, "data.mix\\[0\\].corpus='nope'"),
    ({"corpus": "speech-commands"}, "needs data.mix\\[0\\].source"),
    ({"corpus": "essen", "split": "test"}, "train on training splits only"),
    ({"corpus": "essen", "pairs_per_epoch": 0}, "positive number of pairs"),
    ({"corpus": "essen", "pairs": {"crop": 1}}, "data.mix\\[0\\].pairs="),
    ({"corpus": "essen", "weight": 2}, "keys among"),
])
def test_bad_mix_entries_are_named(entry, message):
    with pytest.raises(ValueError, match=message):
        check_data_section({"corpus": "essen", "mix": [entry]})


def test_pairs_degrader_wraps_the_augmenter(tmp_path, essen_cache):
    from wav2tok_hf.data import Augmenter, Degrader

    degrader = {"conditions": ["eq", "gain", "dc"], "probability": 1.0, "options": {"gain": {"gain_db": [-6.0, 6.0]}}}
    config = tiny_experiment(tmp_path, essen_cache, name="degraded",
                             data={"pairs": {"mode": "unlabelled", "crop_s": 1.0, "augmenter": {"semitones": [0, 0]},
                                             "degrader": degrader}})
    trainer, _ = prepare_training(load_experiment(config))
    augmenter = trainer.train_dataset.augmenter
    assert isinstance(augmenter, Degrader) and isinstance(augmenter.base, Augmenter)
    assert augmenter.base.semitones == (0, 0) and augmenter.options == {"gain": {"gain_db": (-6.0, 6.0)}}
    item = trainer.train_dataset[0]
    assert item["input_values_prime"].dtype.name == "float32" and abs(float(item["input_values_prime"].mean())) > 0
    with pytest.raises(ValueError, match="degrader=.*keys among"):
        check_data_section({"corpus": "essen", "pairs": {"degrader": {"snr": 3}}})
    with pytest.raises(ValueError, match="needs noise_source"):
        check_data_section({"corpus": "essen", "pairs": {"degrader": {"conditions": ["noise"]}}})
