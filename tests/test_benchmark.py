import numpy as np
import pytest
import torch
from datasets import Audio, Dataset
from wav2tok_test_utils import tiny_config, tone

from wav2tok_hf import Wav2TokModel
from wav2tok_hf.retrieval.encoders import (
    Encoder,
    model_encoder,
    with_key_search,
    with_ranking_variants,
)
from wav2tok_hf.retrieval.evaluation import (
    RetrievalSet,
    condition_sets,
    format_table,
    retrieval_set_from_split,
    run_benchmark,
)


def split(kinds, labels, speakers=None):
    audio = [{"array": tone(0.5, freq=150 + 40 * i, seed=i), "sampling_rate": 8000} for i in range(len(kinds))]
    columns = {"audio": audio, "label": labels, "kind": kinds}
    if speakers is not None:
        columns["speaker"] = speakers
    return Dataset.from_dict(columns).cast_column("audio", Audio(sampling_rate=8000))


def test_query_reference_split_and_reference_cap():
    ds = split(["reference", "reference", "query", "reference", "query"], ["a", "a", "a", "b", "b"])
    full = retrieval_set_from_split(ds, 8000)
    assert full.query_labels == ["a", "b"] and full.database_labels == ["a", "a", "b"]
    capped = retrieval_set_from_split(ds, 8000, max_references_per_label=1)
    assert capped.database_labels == ["a", "b"]
    assert capped.database[0].dtype == np.float32


def test_label_subset_keeps_whole_labels_and_their_queries():
    labels = ["a", "a", "b", "b", "c", "c", "d", "d"]
    ds = split(["reference", "query"] * 4, labels)
    sub = retrieval_set_from_split(ds, 8000, max_labels=2, seed=3)
    assert len(set(sub.database_labels)) == 2 and set(sub.query_labels) == set(sub.database_labels)
    assert sub.database_labels == sorted(sub.database_labels)  # split order kept
    assert sub.sizes() == {"num_queries": 2, "num_database": 2, "num_classes": 2, "chance_mrr": 0.75}
    assert retrieval_set_from_split(ds, 8000, max_labels=2, seed=3).database_labels == sub.database_labels
    assert retrieval_set_from_split(ds, 8000, max_labels=10).database_labels == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="max_labels=1"):
        retrieval_set_from_split(ds, 8000, max_labels=1)


def test_clip_split_queries_come_from_other_speakers():
    ds = split(["clip"] * 6, ["a", "b", "a", "b", "a", "b"], speakers=["s1", "s1", "s2", "s2", "s3", "s3"])
    rs = retrieval_set_from_split(ds, 8000, seed=1)
    assert len(rs.queries) + len(rs.database) <= 6 and rs.queries and rs.database
    with pytest.raises(ValueError, match="no speaker column"):
        retrieval_set_from_split(split(["clip"] * 2, ["a", "b"]), 8000)
    with pytest.raises(ValueError, match="lacks columns"):
        retrieval_set_from_split(Dataset.from_dict({"label": ["a"]}), 8000)


def test_conditions_and_benchmark_rows():
    waves = [tone(1.0, freq=f, seed=i) for i, f in enumerate((200, 300, 400))]
    rs = RetrievalSet(waves, ["a", "b", "c"], waves, ["a", "b", "c"], 8000, synthetic=True, name="toy")
    sets = condition_sets(rs, seed=0)
    assert list(sets) == ["V", "TS", "PS"]
    assert any(len(q) != len(w) for q, w in zip(sets["TS"].queries, waves))  # stretched
    assert all(len(q) == len(w) for q, w in zip(sets["PS"].queries, waves))  # shifted, same length
    model = Wav2TokModel(tiny_config()).eval()
    exact = Encoder("identity-length", lambda ws, sr: [[len(w) % 7, len(w) % 5] for w in ws], "levenshtein", 7)
    rows = run_benchmark([model_encoder(model), exact], {"V": sets["V"]})
    assert rows[0]["model"] == "wav2tok" and 0 < rows[0]["V"] <= 1 and rows[0]["search_s"] >= 0
    table = format_table(rows, conditions=("V",), title="toy")
    assert "| wav2tok | levenshtein |" in table and "identity-length" in table


def test_ranking_variants_give_every_token_encoder_the_same_rankings():
    torch.manual_seed(0)
    model = Wav2TokModel(tiny_config()).eval()
    exact = Encoder("identity-length", lambda ws, sr: [[len(w) % 7, len(w) % 5] for w in ws], "levenshtein", 7)
    frames = Encoder("frames", lambda ws, sr: [np.ones((2, 3), np.float32) for _ in ws], "dtw")
    variants = with_ranking_variants([model_encoder(model), exact, frames])
    assert [(e.name, e.distance) for e in variants] == [
        ("wav2tok", "levenshtein"), ("wav2tok", "normalized_levenshtein"),
        ("wav2tok", "normalized_weighted_levenshtein"),  # a codebook: substitution costs of its codewords
        ("identity-length", "levenshtein"), ("identity-length", "normalized_levenshtein"), ("frames", "dtw")]
    np.testing.assert_array_equal(variants[2].substitution_costs, model.substitution_costs())
    waves = [tone(1.0, freq=f, seed=i) for i, f in enumerate((200, 300, 400))]
    rs = RetrievalSet(waves, ["a", "b", "c"], waves, ["a", "b", "c"], 8000, synthetic=True, name="toy")
    row = run_benchmark(variants[2:3], {"V": rs})[0]
    assert row["distance"] == "normalized_weighted_levenshtein" and row["V"] == 1.0  # every query is in the database


def test_key_search_twin_ranks_pitch_shifted_queries_by_their_best_version():
    from wav2tok_hf.data import pitch_shift

    waves = [tone(1.0, freq=f, seed=i) for i, f in enumerate((200, 300, 400))]
    shifted = [pitch_shift(w, 8000, 4) for w in waves]
    rs = RetrievalSet(shifted, ["a", "b", "c"], waves, ["a", "b", "c"], 8000, synthetic=True, name="toy")
    # a toy encoder that sees pitch directly: the dominant FFT bin of the clip
    peak = Encoder("peak", lambda ws, sr: [[int(np.argmax(np.abs(np.fft.rfft(w)))) // 8] for w in ws], "levenshtein", 1000)
    plain, keyed = with_key_search([peak], (-4, 0, 4))
    assert keyed.name == "peak + key search (-4, +0, +4 st)" and keyed.query_pitch_shifts == (-4, 0, 4)
    rows = run_benchmark([plain, keyed], {"PS": rs})
    assert rows[1]["PS"] == 1.0 and rows[0]["PS"] < 1.0  # shifting back by -4 recovers every query
