"""benchmark_speech.py across corpora and recording conditions, and benchmark_std.py on real connected speech
(speechocean762), end to end on a few speakers and a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wav2tok_test_utils import load_script

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared" / "data"
SPEECH, OCEAN = SHARED / "speech_commands_test_v0.02", SHARED / "speechocean762_train"
pytestmark = [pytest.mark.skipif(not (SPEECH.is_dir() and OCEAN.is_dir()), reason=f"shared speech data not in {SHARED}"),
              pytest.mark.usefixtures("hub_offline_and_threads")]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    import torch

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel

    root = tmp_path_factory.mktemp("speech_corpora")
    torch.manual_seed(0)
    config = Wav2TokConfig(sampling_rate=16000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                           embedding_dim=8, codebook_size=12)
    Wav2TokModel(config).save_pretrained(str(root / "tiny16k"))
    return root


def test_speech_corpora_and_query_conditions(work):
    out = work / "speech"
    assert load_script("benchmark_speech").main([
        "--model", str(work / "tiny16k"), "--ocean-source", str(OCEAN), "--ocean-dir", str(work / "ocean"),
        "--ocean-max-speakers", "10", "--noise-source", str(SPEECH), "--rir-count", "1", "--rir-rt60", "0.15", "0.2",
        "--conditions", "V", "telephone", "noise", "reverb", "eq", "gain", "dc", "--dtw", "--max-queries", "5",
        "--baselines", "logmel-dtw", "wav2vec2-o", "--output-dir", str(out)]) == 0
    words = json.loads((out / "speechocean_words.json").read_text())
    assert words["conditions"] == ["V", "telephone", "noise", "reverb", "eq", "gain", "dc"]
    assert words["num_queries"] == 5 and words["synthetic"] is False
    rows = {(r["model"], r["distance"]): r for r in words["rows"]}
    assert ("wav2tok[tiny16k] (frame embeddings)", "dtw") in rows and ("logmel-dtw", "dtw") in rows
    for row in rows.values():
        assert all(0 < row[c] <= 1 for c in words["conditions"])
    assert [s["model"] for s in words["skipped"]] == ["wav2vec2-o"]
    telephone = json.loads((out / "speechocean_telephone.json").read_text())
    assert telephone["conditions"] == ["V"] and "SIMULATED telephone" in telephone["audio"]
    summary = (out / "summary.md").read_text()
    assert "## speechocean-words" in summary and "embedding -> token loss" in summary
    assert "vs logmel-dtw" in summary
    for name in ("speechocean_words_mrr.png", "speechocean_words_ranks.png"):
        assert (out / name).stat().st_size > 1000
    again = work / "speech-model-only"  # a new model's rows beside the earlier run's baseline rows
    common = ["--model", str(work / "tiny16k"), "--ocean-dir", str(work / "ocean"), "--corpora", "speechocean-words",
              "--noise-source", str(SPEECH), "--rir-count", "1", "--rir-rt60", "0.15", "0.2", "--max-queries", "5",
              "--baselines", "--baseline-rows-from", str(out), "--no-plots", "--output-dir", str(again)]
    assert load_script("benchmark_speech").main([*common, "--conditions", "V", "telephone", "noise", "reverb", "eq",
                                             "gain", "dc", "--rerank", "3"]) == 0
    copied = json.loads((again / "speechocean_words.json").read_text())
    assert [r for r in copied["rows"] if r["model"] == "logmel-dtw"] == [rows[("logmel-dtw", "dtw")]]
    reranked = [r for r in copied["rows"] if r.get("rerank") == 3]  # the product path: tokens, then DTW on the best 3
    assert [r["model"] for r in reranked] == ["wav2tok[tiny16k] + re-rank top 3 by DTW (model embeddings)"]
    assert all(0 < reranked[0][c] <= 1 for c in copied["conditions"]) and copied["rerank"] == 3
    assert "- V: wav2tok + re-rank" in (again / "summary.md").read_text()
    assert copied["baseline_rows_from"].endswith("speechocean_words.json")
    with pytest.raises(SystemExit, match="measured something else"):
        load_script("benchmark_speech").main([*common, "--conditions", "V", "dc"])
    (again / "summary.md").unlink()
    assert load_script("benchmark_speech").main(["--model", str(work / "tiny16k"), "--summary-only",
                                             "--output-dir", str(again)]) == 0
    assert "## speechocean-words" in (again / "summary.md").read_text()


def test_speech_refuses_a_noise_condition_without_real_noise(work, capsys):
    with pytest.raises(SystemExit):
        load_script("benchmark_speech").main(["--model", str(work / "tiny16k"), "--ocean-dir", str(work / "ocean"),
                                          "--conditions", "V", "noise"])
    assert "needs real noise" in capsys.readouterr().err


def test_std_on_real_connected_speech(work):
    out = work / "std"
    ocean = work / "ocean"
    args = ["--ocean-dir", str(ocean)] if ocean.is_dir() else ["--ocean-source", str(OCEAN), "--ocean-dir", str(ocean)]
    assert load_script("benchmark_std").main([
        "--model", str(work / "tiny16k"), *args, "--max-queries", "4", "--baselines", "logmel-dtw", "vq-logmel-ed",
        "--output-dir", str(out)]) == 0
    report = json.loads((out / "std.json").read_text())
    assert report["corpus"] == "std-speechocean762" and report["constructed"] is False
    assert 1 <= report["num_queries"] <= 4 and 0 < report["chance_map"] < 1
    rows = {r["model"]: r for r in report["rows"]}
    assert set(rows) == {"wav2tok[tiny16k]", "logmel-dtw", "vq-logmel-ed"}
    assert 0 <= rows["wav2tok[tiny16k]"]["ed_map"] <= 1 and 0 <= rows["logmel-dtw"]["sdtw_map"] <= 1
    assert "REAL connected read speech" in (out / "std.md").read_text()
