"""scripts/validate_speech.py: the validation conditions change what they claim to and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from wav2tok_test_utils import load_script

from wav2tok_hf.retrieval.evaluation import RetrievalSet


def _script():
    return load_script("validate_speech")


def test_conditions_band_limit_trim_and_degrade_only_what_they_say():
    script = _script()
    sr = script.SAMPLING_RATE
    t = np.arange(sr // 2) / sr
    word = (0.5 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    padded = np.concatenate([np.zeros(sr // 4, np.float32), word, np.zeros(sr // 4, np.float32)])
    rs = RetrievalSet([padded], ["a"], [padded, padded], ["a", "b"], sr)
    queries, database = script.condition_data(rs, "V", {})
    assert queries[0] is padded and database == rs.database
    for name in ("8k", "trim8k"):
        queries, database = script.condition_data(rs, name, {})
        spectrum = np.abs(np.fft.rfft(queries[0]))
        high = spectrum[np.fft.rfftfreq(len(queries[0]), 1 / sr) > 4500].max()
        assert high < 0.01 * spectrum.max() and len(database) == 2  # the 6 kHz partial is gone, both sides
    assert len(word) <= len(script.condition_data(rs, "trim8k", {})[0][0]) <= len(word) + 4096 < len(padded)
    queries, database = script.condition_data(rs, "TS", {})
    assert len(queries[0]) != len(padded) and database == rs.database
    queries, database = script.condition_data(rs, "dc", {})
    assert abs(float(queries[0].mean() - padded.mean())) > 0.01 and database[0] is padded  # queries only


def test_rerank_rows_over_the_whole_database_rank_as_dtw_over_the_embeddings():
    """The product path's row (tokens, then DTW over the frame embeddings on the shortlist) with a shortlist as long
    as the database ranks every item by that DTW: the frame-embeddings row, in each condition (8k changes the
    database too, so each condition indexes its own)."""
    import datasets
    import torch
    from wav2tok_test_utils import tone

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    from wav2tok_hf.benchmarks.speech_validation import validate_speech

    torch.manual_seed(0)
    model = Wav2TokModel(Wav2TokConfig(sampling_rate=16000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                                       embedding_dim=8, codebook_size=12)).eval()
    labels = ["a", "b", "c"] * 3
    kinds = ["reference"] * 6 + ["query"] * 3
    audio = [{"array": tone(0.4, sr=16000, freq=200 + 60 * "abc".index(lab) + 7 * i, seed=i), "sampling_rate": 16000}
             for i, lab in enumerate(labels)]
    split = datasets.Dataset.from_dict({"audio": audio, "label": labels, "kind": kinds}).cast_column(
        "audio", datasets.Audio(sampling_rate=16000))
    rows = validate_speech({"sc": datasets.DatasetDict(validation=split, train=split)}, [("tiny", model)],
                           conditions=["V", "8k"], dtw=True, rerank=[1, 6])["rows"]
    by_model = {row["model"]: row for row in rows}
    full, dtw = by_model["tiny + re-rank top 6 by DTW (model embeddings)"], by_model["tiny (frame embeddings)"]
    assert full["distance"] == "normalized_weighted_levenshtein -> dtw"
    assert [full[c] for c in ("sc/V", "sc/8k")] == [dtw[c] for c in ("sc/V", "sc/8k")]
    assert "tiny + re-rank top 1 by DTW (model embeddings)" in by_model and "mean" in full


@pytest.mark.parametrize("script, argv, message", [
    ("validate_speech", ["--rerank", "0"], "--rerank must be a positive integer, got 0"),
    ("validate_speech", ["--rerank", "5", "--rerank-pool", "0"], "--rerank-pool must be a positive integer, got 0"),
    ("benchmark_speech", ["--model", "m", "--rerank", "-1"], "--rerank -1: expected the number of items to re-rank"),
    ("benchmark_speech", ["--model", "m", "--rerank-pool", "0"], "--rerank-pool must be a positive integer, got 0")])
def test_rerank_flags_refuse_bad_values_before_any_work(script, argv, message, capsys):
    with pytest.raises(SystemExit) as error:
        load_script(script).main(argv)
    assert error.value.code == 2 and message in capsys.readouterr().err
