"""The benchmark scripts (scripts/benchmark_{qbsh,speech,std}.py) end to end on tiny data and tiny random models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wav2tok_test_utils import load_script

from wav2tok_hf import Wav2TokModel

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEECH = REPO_ROOT.parent / "shared" / "data" / "speech_commands_test_v0.02"
pytestmark = pytest.mark.usefixtures("hub_offline_and_threads")  # no network here; the scripts set threads
BLOCK_KEYS = {"corpus", "synthetic", "protocol", "num_queries", "num_database", "chance_mrr", "rows", "skipped"}
ROW_KEYS = {"model", "distance", "V", "TS", "PS", "search_s", "infer_s"}


def _tiny_model(path: Path, sampling_rate: int) -> str:
    import torch

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel

    torch.manual_seed(0)
    config = Wav2TokConfig(sampling_rate=sampling_rate, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                           embedding_dim=8, codebook_size=12)
    Wav2TokModel(config).save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench_scripts")


@pytest.fixture(scope="module")
def model_8k(tmp_module) -> str:
    return _tiny_model(tmp_module / "tiny8k", 8000)


@pytest.fixture(scope="module")
def model_16k(tmp_module) -> str:
    return _tiny_model(tmp_module / "tiny16k", 16000)


@pytest.fixture(scope="module")
def essen_dir(tmp_module) -> str:
    from wav2tok_hf.data import prepare_essen

    path = tmp_module / "essen"
    prepare_essen(str(path), num_songs=(3, 2, 3), queries_per_song=2, seed=0)
    return str(path)


def _check_block(block: dict, synthetic: bool) -> None:
    assert BLOCK_KEYS <= set(block)
    assert block["synthetic"] is synthetic
    assert block["num_queries"] > 0 and block["num_database"] > 0 and 0 < block["chance_mrr"] <= 1
    for row in block["rows"]:
        assert ROW_KEYS <= set(row), row.keys()
        assert all(0 <= row[c] <= 1 for c in ("V", "TS", "PS"))
        assert set(row["ranks"]) == {"V", "TS", "PS"} and len(row["ranks"]["V"]) == block["num_queries"]
    for skipped in block["skipped"]:
        assert skipped["model"] and skipped["reason"]


def test_qbsh_essen(tmp_module, model_8k, essen_dir):
    out = tmp_module / "qbsh"
    main = load_script("benchmark_qbsh").main
    assert main(["--model", model_8k, "--corpus-dir", essen_dir, "--output-dir", str(out), "--dtw", "--seed", "0",
                 "--rerank", "1000", "--rerank-frames", "embeddings", "pitch-contour-dtw",
                 "--baselines", "vq-logmel-ed", "pitch-notes-ed", "wav2vec2-o",
                 "--hub-model-id", str(tmp_module / "no-such-checkpoint")]) == 0
    report = json.loads((out / "qbsh_essen.json").read_text())
    _check_block(report, synthetic=True)
    assert report["protocol"] == "unseen"
    assert [b["protocol"] for b in report["protocols"]] == ["unseen", "closed-set"]
    for block in report["protocols"]:
        _check_block(block, synthetic=True)
        assert [(r["model"], r["distance"]) for r in block["rows"]] == [
            ("wav2tok[tiny8k]", "levenshtein"), ("wav2tok[tiny8k]", "normalized_levenshtein"),
            ("wav2tok[tiny8k]", "normalized_weighted_levenshtein"), ("wav2tok[tiny8k]", "dtw"),
            ("vq-logmel-ed", "levenshtein"), ("vq-logmel-ed", "normalized_levenshtein"),
            ("vq-logmel-ed", "normalized_weighted_levenshtein"),
            ("pitch-notes-ed", "levenshtein"), ("pitch-notes-ed", "normalized_levenshtein"),
            ("wav2tok[tiny8k] + re-rank top 1000 by DTW (model embeddings)", "normalized_weighted_levenshtein -> dtw"),
            ("wav2tok[tiny8k] + re-rank top 1000 by DTW (pitch-contour-dtw)", "normalized_weighted_levenshtein -> dtw")]
        # a shortlist covering the whole database re-ranks everything: the DTW over embeddings row's ranks
        rows = {r["model"]: r for r in block["rows"] if r["distance"] == "normalized_weighted_levenshtein -> dtw"}
        dtw = next(r for r in block["rows"] if r["distance"] == "dtw")
        assert rows["wav2tok[tiny8k] + re-rank top 1000 by DTW (model embeddings)"]["ranks"] == dtw["ranks"]
    skipped = {s["model"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"wav2vec2-o", f"hub-ctc:{tmp_module / 'no-such-checkpoint'}"}
    assert "cannot load" in skipped["wav2vec2-o"]
    markdown = (out / "qbsh_essen.md").read_text()
    assert "SYNTHETIC" in markdown and "closed-set (the paper's protocol)" in markdown and "TRAINING songs" in markdown
    assert "wav2vec2-o: skipped: " in markdown
    for name in ("qbsh_essen_unseen_mrr.png", "qbsh_essen_unseen_ranks.png", "qbsh_essen_closed-set_mrr.png",
                 "qbsh_essen_closed-set_ranks.png", "qbsh_essen_tokens_tiny8k.png"):
        assert (out / name).stat().st_size > 1000, name
    # deterministic under --seed (everything but the timings)
    out2 = tmp_module / "qbsh2"
    main(["--model", model_8k, "--corpus-dir", essen_dir, "--output-dir", str(out2), "--no-plots",
          "--protocols", "unseen", "--baselines", "--rerank", "1", "--rerank-pool", "2"])
    again = json.loads((out2 / "qbsh_essen.json").read_text())
    assert [again["rows"][0][c] for c in ("V", "TS", "PS")] == [report["rows"][0][c] for c in ("V", "TS", "PS")]
    assert again["rows"][0]["ranks"] == report["rows"][0]["ranks"]
    # a shortlist of one: the token ranking with its first item fixed, the re-rank row next to (not instead of) it
    tokens, reranked = again["rows"][2], again["rows"][-1]
    assert tokens["distance"] == "normalized_weighted_levenshtein" and reranked["rerank"] == 1
    assert reranked["rerank_pool"] == 2 and "2 frames pooled" in reranked["model"]
    assert all((a == 1) == (b == 1) for a, b in zip(tokens["ranks"]["V"], reranked["ranks"]["V"]))
    # --max-songs: a seeded subset of the split's songs (3 training songs here), with only their queries
    out3 = tmp_module / "qbsh3"
    main(["--model", model_8k, "--corpus-dir", essen_dir, "--output-dir", str(out3), "--no-plots",
          "--protocols", "closed-set", "--baselines", "--max-songs", "2"])
    closed = json.loads((out3 / "qbsh_essen.json").read_text())
    assert closed["protocol"] == "closed-set" and closed["num_classes"] == 2 and closed["num_queries"] == 4


def test_qbsh_ablation(tmp_module, model_8k, essen_dir):
    import shutil

    root = tmp_module / "ablation"
    for name in ("cos", "nosim"):
        shutil.copytree(model_8k, root / name)
    out = tmp_module / "ablation_out"
    assert load_script("benchmark_qbsh").main(["--ablation-dir", str(root), "--corpus-dir", essen_dir, "--output-dir",
                                           str(out), "--max-queries", "3", "--no-plots"]) == 0
    report = json.loads((out / "ablation_essen.json").read_text())
    _check_block(report, synthetic=True)
    assert report["num_queries"] == 3
    assert [(r["config"], r["distance"]) for r in report["rows"]] == [
        ("cos", "levenshtein"), ("cos", "normalized_levenshtein"), ("cos", "normalized_weighted_levenshtein"),
        ("nosim", "levenshtein"), ("nosim", "normalized_levenshtein"), ("nosim", "normalized_weighted_levenshtein")]
    assert "| cos | levenshtein |" in (out / "ablation_essen.md").read_text()


def test_qbsh_errors(tmp_module, model_8k, capsys):
    main = load_script("benchmark_qbsh").main
    with pytest.raises(SystemExit) as error:
        main(["--model", str(tmp_module / "missing-model")])
    assert error.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", model_8k, "--corpus", "mastmelody", "--source", str(tmp_module / "missing-source")])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", model_8k, "--baselines", "no-such-baseline"])
    assert "unknown" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])
    assert "--model" in capsys.readouterr().err


@pytest.mark.skipif(not SPEECH.is_dir(), reason=f"shared speech data not found at {SPEECH}")
def test_speech(tmp_module, model_16k):
    out = tmp_module / "speech"
    assert load_script("benchmark_speech").main([
        "--model", model_16k, "--source", str(SPEECH), "--max-clips", "300", "--include-unknown", "no",
        "--max-queries", "6", "--key-search", "-2", "0", "2", "--conditions", "V", "TS", "PS",
        "--output-dir", str(out), "--baselines", "logmel-dtw", "vq-logmel-ed", "wav2vec2-o", "wav2vec2-multi"]) == 0
    report = json.loads((out / "speech_commands.json").read_text())
    _check_block(report, synthetic=False)
    plain = [("wav2tok[tiny16k]", "levenshtein"), ("wav2tok[tiny16k]", "normalized_levenshtein"),
             ("wav2tok[tiny16k]", "normalized_weighted_levenshtein"), ("logmel-dtw", "dtw"),
             ("vq-logmel-ed", "levenshtein"), ("vq-logmel-ed", "normalized_levenshtein"),
             ("vq-logmel-ed", "normalized_weighted_levenshtein")]
    keyed = [(f"{model} + key search (-2, +0, +2 st)", distance) for model, distance in plain]
    assert [(r["model"], r["distance"]) for r in report["rows"]] == [row for pair in zip(plain, keyed) for row in pair]
    assert report["key_search_semitones"] == [-2.0, 0.0, 2.0]
    assert {s["model"] for s in report["skipped"]} == {"wav2vec2-o", "wav2vec2-multi"}
    assert "REAL speech" in (out / "speech_commands.md").read_text()
    for name in ("speech_commands_mrr.png", "speech_commands_ranks.png", "speech_commands_tokens.png"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.skipif(not SPEECH.is_dir(), reason=f"shared speech data not found at {SPEECH}")
def test_std(tmp_module, model_16k):
    out = tmp_module / "std"
    assert load_script("benchmark_std").main([
        "--model", model_16k, "--source", str(SPEECH), "--max-clips", "400", "--num-utterances", "3", "4", "4",
        "--max-queries", "6", "--output-dir", str(out), "--baselines", "logmel-dtw", "wav2vec2-o", "wav2vec2-multi"]) == 0
    report = json.loads((out / "std.json").read_text())
    assert report["synthetic"] is False and report["constructed"] is True
    assert report["num_queries"] == 6 and report["num_utterances"] == 4
    rows = {r["model"]: r for r in report["rows"]}
    assert set(rows) == {"wav2tok[tiny16k]", "logmel-dtw"}
    wav2tok = rows["wav2tok[tiny16k]"]
    assert 0 <= wav2tok["ed_f1"] <= 1 and 0 <= wav2tok["sdtw_f1"] <= 1 and wav2tok["ed_search_s"] > 0
    assert "ed_f1" not in rows["logmel-dtw"] and 0 <= rows["logmel-dtw"]["sdtw_f1"] <= 1
    for result in wav2tok["results"]:
        assert result["threshold"] in result["validation_sweep"]["thresholds"]
        assert result["f1"] <= result["test_oracle_f1"] + 1e-12
    assert {s["model"] for s in report["skipped"]} == {"wav2vec2-o", "wav2vec2-multi"}
    assert all(s["reason"] for s in report["skipped"])
    markdown = (out / "std.md").read_text()
    assert "CONSTRUCTED from REAL speech" in markdown and "| wav2vec2-o | skipped |" in markdown
    assert (out / "std_sweep.png").stat().st_size > 1000


def test_tune_substitution_temperature(tmp_module, model_8k, essen_dir):
    out = tmp_module / "tune"
    assert load_script("tune_substitution_temperature").main([
        "--model", model_8k, "--corpus-dir", essen_dir, "--temperatures", "0.4", "0.8", "--output-dir", str(out)]) == 0
    report = json.loads((out / "substitution_temperature.json").read_text())
    assert [(r["distance"], r["temperature"]) for r in report["rows"]] == [
        ("normalized_levenshtein", None), ("normalized_weighted_levenshtein", 0.4),
        ("normalized_weighted_levenshtein", 0.8)]
    for row in report["rows"]:
        assert 0 < row["mean"] <= 1 and row["mean"] == pytest.approx((row["V"] + row["TS"] + row["PS"]) / 3)
    assert "Validation split (never test)" in (out / "substitution_temperature.md").read_text()
    with pytest.raises(SystemExit):
        load_script("tune_substitution_temperature").main(["--model", model_8k, "--corpus-dir", essen_dir,
                                                        "--temperatures", "0", "--output-dir", str(out)])


def test_tune_token_runs_and_bench_rerank(tmp_module, model_8k, essen_dir):
    out = tmp_module / "runs"
    assert load_script("tune_token_runs").main(["--model", model_8k, "--corpus-dir", essen_dir, "--runs", "0", "2",
                                            "--temperatures", "0.1", "--cost-caps", "1", "--key-search", "-1", "0",
                                            "1", "--output-dir", str(out)]) == 0
    report = json.loads((out / "token_runs.json").read_text())
    assert report["split"] == "validation"
    names = [(r["model"].split()[-1], r["distance"]) for r in report["rows"]]
    assert names[0] == ("embeddings", "dtw") and ("N=2", "normalized_levenshtein") in names
    keyed = [r for r in report["rows"] if r["model"].endswith("+ key search (-1, +0, +1 st)")]
    assert len(keyed) == len(report["rows"]) // 2  # every token row once more with the key search, not the DTW row
    weighted = [r["model"].split()[-2:] for r in report["rows"] if r["distance"] == "normalized_weighted_levenshtein"
                and "key search" not in r["model"]]
    assert ["tau=0.1", "cap=1"] in weighted and ["tau=0.1", "cap=2"] in weighted  # every temperature x cap
    for row in report["rows"]:
        assert 0 < row["mean"] <= 1 and row["mean"] == pytest.approx((row["V"] + row["TS"] + row["PS"]) / 3)
    with pytest.raises(SystemExit):
        load_script("tune_token_runs").main(["--model", model_8k, "--corpus-dir", essen_dir, "--runs", "-1"])
    with pytest.raises(SystemExit):
        load_script("tune_token_runs").main(["--model", model_8k, "--corpus-dir", essen_dir, "--cost-caps", "3"])
    speed = tmp_module / "speed"
    assert load_script("bench_rerank").main(["--model", model_8k, "--corpus-dir", essen_dir, "--rerank", "1",
                                         "--rerank-pools", "1", "4", "--repeats", "1",
                                         "--output-dir", str(speed)]) == 0
    timing = json.loads((speed / "bench_rerank.json").read_text())["search_s_per_query"]
    assert set(timing) == {"tokens only", "tokens + re-rank top 1 (embedding DTW)",
                           "tokens + re-rank top 1 (embedding DTW, 4 frames pooled)", "pitch-contour DTW, every item"}
    assert all(t > 0 for t in timing.values())
    keyed = Wav2TokModel.from_pretrained(model_8k)  # a model that searches at query pitch shifts gets that row too
    keyed.config.query_pitch_shifts = [-0.5, 0, 0.5]
    keyed.save_pretrained(tmp_module / "keyed")
    assert load_script("bench_rerank").main(["--model", str(tmp_module / "keyed"), "--corpus-dir", essen_dir,
                                         "--rerank", "1", "--repeats", "1", "--output-dir", str(speed)]) == 0
    timing = json.loads((speed / "bench_rerank.json").read_text())["search_s_per_query"]
    assert timing["tokens, key search over 3 query versions"] > 0
