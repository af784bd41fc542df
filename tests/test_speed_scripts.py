"""The speed checks (scripts/bench_train.py, bench_search.py, bench_encode.py) end to end at tiny sizes: their
reports keep their keys, and bad arguments are usage errors before any work."""

from __future__ import annotations

import json

import pytest
from wav2tok_test_utils import load_script

pytestmark = pytest.mark.usefixtures("hub_offline_and_threads")  # the scripts set torch's threads


def test_bench_search(tmp_path):
    out = tmp_path / "search.json"
    report = load_script("bench_search").main([
        "--num-items", "30", "--length", "12", "--num-queries", "3", "--term-length", "4", "--dtw-items", "5",
        "--dtw-frames", "8", "--dim", "4", "--repeats", "1", "--output", str(out)])
    cases = [row["case"] for row in report["rows"]]
    assert cases == ["ED, 1 query", "ED, 3 queries", "normalised ED, 1 query", "weighted normalised ED, 1 query",
                     "subsequence ED, 1 query of 4", "DTW, 1 query, 5 items x 8 frames",
                     "subsequence DTW, 1 query, 5 items x 8 frames"]
    written = json.loads(out.read_text())
    assert list(written) == ["args", "cpu_count", "platform", "rows", "weighted_vs_plain_normalised_ed",
                             "librosa_dtw_mcells_per_s"]
    assert written["args"]["num_items"] == 30
    for row in written["rows"]:
        assert set(row) == {"case", "raw_kernel", "raw_ms", "index_ms", "ratio", "index_mcells_per_s",
                            "raw_mcells_per_s"}
        assert row["raw_ms"] > 0 and row["index_ms"] > 0


def test_bench_search_refuses_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        load_script("bench_search").main(["--repeats", "0"])
    assert "--repeats must be a positive integer" in capsys.readouterr().err


def test_bench_train(tmp_path, capsys):
    out = tmp_path / "train.json"
    report = load_script("bench_train").main([
        "--steps", "1", "--songs", "3", "--encoder-repeats", "1", "--output", str(out),
        "training.batch_size=2", "training.e_step_clips=4", f"data.cache_dir={tmp_path / 'no-cache'}"])
    assert report["corpus"] == "Essen built on the fly (3 songs)" and report["steps_timed"] == 1
    assert list(report["ms_per_step"]) == ["data", "features", "dtw", "forward", "losses", "backward", "e_step"]
    assert report["shapes"]["batch_size"] == 2 and report["shapes"]["sequences_per_step"] == 4
    assert set(report["encoder_only"]["seconds"]) == {"ours_exact_padded", "fused_packed", "fused_padded_inexact"}
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    printed = capsys.readouterr().out
    assert "| **total** |" in printed and "| ours_exact_padded |" in printed


@pytest.mark.parametrize("argv, message", [(["--steps", "0"], "--steps must be a positive integer"),
                                           (["--config", "no/such.yaml"], "experiment config not found")])
def test_bench_train_refuses_bad_input(argv, message, capsys):
    with pytest.raises(SystemExit):
        load_script("bench_train").main(argv)
    assert message in capsys.readouterr().err


def test_bench_encode(tmp_path):
    out = tmp_path / "encode.json"
    report = load_script("bench_encode").main(["--num-clips", "2", "--clip-s", "0.5", "--repeats", "1",
                                               "--threads", "1", "--no-hub", "--output", str(out)])
    assert [row["encoder"] for row in report["rows"]] == [
        "wav2tok encode (tokens)", "wav2tok embed (frames)", "logmel-dtw", "vq-logmel-ed", "pitch-notes-ed",
        "relative-note-dtw", "pitch-contour-dtw"]
    written = json.loads(out.read_text())
    assert list(written) == ["args", "cpu_count", "platform", "torch", "rows", "skipped"]
    assert all(row["rtf"] > 0 and row["ms_per_query"] > 0 for row in written["rows"])
    with pytest.raises(SystemExit):
        load_script("bench_encode").main(["--num-clips", "0"])


def test_bench_data(tmp_path):
    out = tmp_path / "data.json"
    report = load_script("bench_data").main(["--shared-data", str(tmp_path / "no-shared-data"), "--essen-songs", "2",
                                             "1", "1", "--clips", "2", "--output", str(out)])
    items = [row["item"] for row in report["results"]]
    assert items[0] == "essen (2, 1, 1) songs x (1 ref + 4 hums)" and len(items) == 6  # no shared corpora here
    assert items[-1] == "PairDataset unlabelled item (decode + crop + augment) (torch threads=2)"
    assert json.loads(out.read_text()) == report


@pytest.fixture
def scale_inputs(tmp_path):
    """A tokens JSON (40 real-like strings of 10 melodies, 4 of them test queries) and a model for the costs."""
    import numpy as np
    import torch

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel

    rng = np.random.default_rng(0)
    tokens = [rng.integers(0, 12, rng.integers(15, 30)).tolist() for _ in range(40)]
    corpus = {"tokens": tokens, "label": [f"m{i % 10}" for i in range(40)], "id": [str(i) for i in range(40)],
              "kind": ["query" if i < 4 else "reference" for i in range(40)],
              "split": ["test" if i < 20 else "train" for i in range(40)]}
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(corpus))
    torch.manual_seed(0)
    Wav2TokModel(Wav2TokConfig(sampling_rate=8000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                               embedding_dim=8, codebook_size=12)).save_pretrained(str(tmp_path / "model"))
    return str(path), str(tmp_path / "model")


def test_bench_scale_and_graph_ann(tmp_path, scale_inputs):
    tokens, model = scale_inputs
    out = tmp_path / "scale" / "bench_scale"
    report = load_script("bench_scale").main([
        "--tokens", tokens, "--model", model, "--sizes", "120", "--queries", "3", "--exhaustive-queries", "2",
        "--repeats", "1", "--candidates", "5", "--scratch", str(tmp_path / "scratch"), "--output", str(out)])
    assert report["queries"] == 3 and report["seed_strings"] == 36 and [r["items"] for r in report["sizes"]] == [120]
    row = report["sizes"][0]
    for name in ("real", "near"):
        stats = row[f"{name}/normalized_weighted_levenshtein"]
        assert stats["queries"] == 3 and stats["exhaustive_queries"] == 2 and 0 <= stats["recall_at_10"] <= 1
        assert set(stats["approximate"]) == {"5"}
        assert stats["first_search_ms"] > 0  # the untimed first search (one-time compiles), reported apart
    assert json.loads((tmp_path / "scale" / "bench_scale.json").read_text())["sizes"][0]["items"] == 120
    assert "# Search at scale" in (tmp_path / "scale" / "bench_scale.md").read_text()
    assert (tmp_path / "scale" / "bench_scale.png").stat().st_size > 1000
    merged = load_script("bench_scale").main(["--merge", f"{out}.json", f"{out}.json", "--output",
                                              str(tmp_path / "scale" / "merged")])
    assert [r["items"] for r in merged["sizes"]] == [120, 120]
    graph = load_script("bench_graph_ann").main([
        "--tokens", tokens, "--model", model, "--size", "150", "--queries", "3", "--ef", "16", "--build-threads", "1",
        "--output", str(tmp_path / "graph" / "ann")])
    assert graph["items"] == 150 and list(graph["sets"]) == ["real queries (test split)",
                                                           "near copies (SYNTHETIC, 0-10% edits of an item)"]
    assert [e["ef"] for e in graph["sets"]["real queries (test split)"]["ef"]] == [16]
    assert "Relative contrast" in (tmp_path / "graph" / "ann.md").read_text()
    with pytest.raises(SystemExit):
        load_script("bench_scale").main(["--tokens", str(tmp_path / "missing.json")])


def test_bench_std_scale(tmp_path, scale_inputs, capsys):
    tokens, _ = scale_inputs
    out = tmp_path / "std" / "bench_std_scale"
    argv = ["--tokens", tokens, "--hours", "0.05", "--queries", "4", "--exhaustive-queries", "2", "--vocab-size",
            "12", "--max-score", "0.3", "--output", str(out)]
    report = load_script("bench_std_scale").main(argv)
    assert report["distance"] == "normalized_subsequence_levenshtein" and len(report["rows"]) == 1
    row = report["rows"][0]
    assert row["recordings"] == 3 and row["tokens"] == 3 * 318 and row["queries"] == 4
    assert row["exhaustive_queries"] == 2 and 0 <= row["recall_at_10"] <= 1
    assert len(row["per_query"]["ms"]) == 4 and row["fast_full_scans"] == row["per_query"]["stage"].count(2)
    assert set(row["per_query"]["stage"]) <= {1, 2}
    (search,) = row["range"]
    assert search["max_score"] == 0.3 and search["checked"] == 2 and search["recall"] == 1.0
    assert json.loads((tmp_path / "std" / "bench_std_scale.json").read_text()) == json.loads(json.dumps(report))
    markdown = (tmp_path / "std" / "bench_std_scale.md").read_text()
    assert "| 0.05 (954) |" in markdown and "Threshold (range) search" in markdown
    again = load_script("bench_std_scale").main(argv)  # deterministic but for the timings
    assert [r["recall_at_10"] for r in again["rows"]] == [r["recall_at_10"] for r in report["rows"]]
    assert again["rows"][0]["range"][0]["hits_mean"] == search["hits_mean"]
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["--queries", "0"], "--queries must be a positive integer"),
    (["--hours", "0"], "--hours must be positive"),
    (["--tokens-per-second", "0.1"], "must hold more tokens than a query excerpt"),
    (["--tokens", "no/such/tokens.json"], "does not exist"),
    (["--vocab-size", "5"], "holds token ids >= --vocab-size 5")])
def test_bench_std_scale_refuses_bad_input(argv, message, scale_inputs, capsys):
    tokens, _ = scale_inputs
    with pytest.raises(SystemExit) as error:
        load_script("bench_std_scale").main(["--tokens", tokens, *argv])
    assert error.value.code == 2 and message in capsys.readouterr().err
