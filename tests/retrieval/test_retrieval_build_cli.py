"""`wav2tok index build` / `wav2tok index search` on a folder of audio, resumable."""

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from wav2tok_hf import Wav2TokConfig, Wav2TokModel
from wav2tok_hf.cli import main
from wav2tok_hf.retrieval import Wav2TokIndex

SR = 8000


def tone(notes, note_s=0.25):
    t = np.arange(int(note_s * SR)) / SR
    return np.concatenate([0.5 * np.sin(2 * np.pi * 440 * 2 ** ((n - 69) / 12) * t) for n in notes]).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    torch.manual_seed(0)
    model = Wav2TokModel(Wav2TokConfig(codebook_size=8, sampling_rate=SR, hidden_size=32, embedding_dim=16)).eval()
    model.save_pretrained(root / "model")
    songs = {"up/a.wav": [60, 64, 67, 72], "up/b.wav": [62, 66, 69], "down/c.wav": [72, 67, 64, 60], "d.wav": [50, 55]}
    for name, notes in songs.items():
        os.makedirs(root / "audio" / os.path.dirname(name), exist_ok=True)
        sf.write(root / "audio" / name, tone(notes), SR)
    return root


def test_build_and_search_a_folder(corpus, tmp_path, capsys, monkeypatch):
    model, audio, out = str(corpus / "model"), str(corpus / "audio"), str(tmp_path / "index")
    real_save = Wav2TokIndex.save

    def interrupted(self, directory):
        raise KeyboardInterrupt  # the build is killed after tokenising, before saving

    monkeypatch.setattr(Wav2TokIndex, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["index", "build", model, audio, out, "--chunk-size", "2", "--store-frames"])
    chunks = sorted(n for n in os.listdir(os.path.join(out, ".build")) if n.startswith("chunk-"))
    assert len(chunks) == 2  # both chunks finished and kept
    before = {n: os.path.getmtime(os.path.join(out, ".build", n)) for n in chunks}
    monkeypatch.setattr(Wav2TokIndex, "save", real_save)
    assert main(["index", "build", model, audio, out, "--chunk-size", "2", "--store-frames"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["items"] == 4 and summary["rerank_frames"] and not os.path.exists(os.path.join(out, ".build"))
    index = Wav2TokIndex.load(out)
    assert sorted(index.ids) == ["d.wav", "down/c.wav", "up/a.wav", "up/b.wav"]
    assert sorted(set(index.labels)) == ["d.wav", "down", "up"]
    assert all(before[n] > 0 for n in chunks)
    assert main(["index", "search", out, os.path.join(audio, "down/c.wav"), "--top-k", "2", "--rerank", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert rows[0]["id"] == "down/c.wav" and rows[0]["reranked"] and len(rows) == 2
    query = os.path.join(audio, "down/c.wav")
    assert main(["index", "search", out, query, "--top-k", "4"]) == 0
    every = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    limit = every[1]["score"]  # a threshold (detection) search: the top-4 hits scored at most the second's score
    assert main(["index", "search", out, query, "--top-k", "4", "--max-score", str(limit)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert rows == [row for row in every if row["score"] <= limit] and rows[0]["id"] == "down/c.wav"
    assert 2 <= len(rows) < len(every) == 4
    assert main(["index", "search", out, query, "--max-score", "-1"]) == 2
    assert "max_score=-1.0; expected a finite number >= 0" in capsys.readouterr().err
    assert main(["index", "build", model, audio, out]) == 2  # refuses to overwrite without --overwrite
    assert "already holds an index" in capsys.readouterr().err
    assert main(["index", "build", model, str(tmp_path / "nothing-here"), str(tmp_path / "x")]) == 2


def test_search_several_queries_loads_once_and_labels_rows(corpus, tmp_path, capsys, monkeypatch):
    """Several query files and folders in one command: each query's hits are what a search of it alone prints
    (plus its path), the index and model load once, and a missing query fails before any loading."""
    model, audio, out = str(corpus / "model"), str(corpus / "audio"), str(tmp_path / "index")
    assert main(["index", "build", model, audio, out]) == 0
    capsys.readouterr()
    one = os.path.join(audio, "d.wav")
    alone = {}
    for query in (one, *(os.path.join(audio, "up", n) for n in ("a.wav", "b.wav"))):
        assert main(["index", "search", out, query, "--top-k", "3"]) == 0
        alone[query] = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    loads = []
    real_load = Wav2TokIndex.load
    monkeypatch.setattr(Wav2TokIndex, "load", classmethod(lambda cls, *a, **k: loads.append(a) or real_load(*a, **k)))
    assert main(["index", "search", out, one, os.path.join(audio, "up"), "--top-k", "3"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(loads) == 1
    assert [r["query"] for r in rows] == [q for q in alone for _ in alone[q]]  # the given order, a folder's sorted
    assert rows == [{**row, "query": q} for q in alone for row in alone[q]]
    assert main(["index", "search", out, one, str(tmp_path / "missing.wav")]) == 2
    assert "missing.wav" in capsys.readouterr().err and len(loads) == 1  # refused before loading the index
    os.makedirs(tmp_path / "empty")
    assert main(["index", "search", out, str(tmp_path / "empty")]) == 2
    assert "no audio files" in capsys.readouterr().err


def test_build_with_graph_saves_it_and_search_uses_it(corpus, tmp_path, capsys):
    model, audio, out = str(corpus / "model"), str(corpus / "audio"), str(tmp_path / "index")
    assert main(["index", "build", model, audio, out, "--graph", "--graph-candidates", "1000"]) == 0
    capsys.readouterr()
    index = Wav2TokIndex.load(out)
    assert index._graph is not None and len(index._graph) == len(index) == 4
    assert index._graph.expansion_search == 1000  # kept with the index
    assert main(["index", "search", out, os.path.join(audio, "up/a.wav"), "--top-k", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert rows[0]["id"] == "up/a.wav" and len(rows) == 2


def test_a_graph_explores_the_model_s_own_width_unless_told(corpus, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(corpus / "model", model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "graph_candidates": 300}))
    out = str(tmp_path / "index")
    assert main(["index", "build", str(model), str(corpus / "audio"), out, "--graph"]) == 0
    assert Wav2TokIndex.load(out)._graph.expansion_search == 300


@pytest.mark.parametrize("options", [["--graph-candidates", "0"], ["--graph-candidates", "100"]])
def test_graph_candidates_are_refused_without_a_graph_or_below_one(corpus, tmp_path, capsys, options):
    args = ["index", "build", str(corpus / "model"), str(corpus / "audio"), str(tmp_path / "i"), *options]
    assert main(args + (["--graph"] if options[1] == "0" else [])) == 2
    assert "graph_candidates" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "i")


def test_build_with_graph_refuses_a_codebook_over_65535_before_tokenising(tmp_path, capsys):
    big = Wav2TokModel(Wav2TokConfig(codebook_size=70000, sampling_rate=SR, hidden_size=16, embedding_dim=2))
    big.save_pretrained(tmp_path / "big")
    assert main(["index", "build", str(tmp_path / "big"), str(tmp_path / "no-audio"), str(tmp_path / "i"),
                 "--graph"]) == 2
    assert "at most 65535 tokens" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "i")


def test_built_strings_are_the_models_encode_strings(corpus, tmp_path):
    """An index built from a folder holds what model.encode gives, durations kept (config.max_token_run) included,
    so CLI-built items and search_audio queries are comparable."""
    model = Wav2TokModel.from_pretrained(corpus / "model")
    model.config.max_token_run = 2
    model.save_pretrained(tmp_path / "model")
    assert main(["index", "build", str(tmp_path / "model"), str(corpus / "audio"), str(tmp_path / "index")]) == 0
    index = Wav2TokIndex.load(tmp_path / "index")
    for item in index.ids:
        assert index.sequence(item).tolist() == model.encode(str(corpus / "audio" / item))
    assert any(np.any(np.diff(index.sequence(item)) == 0) for item in index.ids)  # a long run split: not collapsed


def test_windows_index_lists_recordings_by_their_best_window(corpus, tmp_path, capsys):
    """``--windows``: every recording is indexed as windows tokenised on their own (labels: its id), and a search
    lists recordings (each once) with the span of their best window; a piece cut from a recording is found there."""
    import soundfile as sf

    from wav2tok_hf.retrieval.std import window_of

    model, audio, out = str(corpus / "model"), str(corpus / "audio"), str(tmp_path / "windows")
    assert main(["index", "build", model, audio, out, "--windows", "--chunk-size", "3"]) == 0
    index = Wav2TokIndex.load(out)
    assert sorted(set(index.labels)) == ["d.wav", "down/c.wav", "up/a.wav", "up/b.wav"] and len(index) > 4 * 5
    assert all(window_of(i)[0] == label for i, label in zip(index.ids, index.labels))
    wave, rate = sf.read(os.path.join(audio, "down/c.wav"), dtype="float32")
    query = str(tmp_path / "piece.wav")
    sf.write(query, wave[int(0.5 * rate):int(1.25 * rate)], rate)  # 0.75 s: one of the windows' lengths
    capsys.readouterr()
    assert main(["index", "search", out, query, "--top-k", "3"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) == len({r["id"] for r in rows}) == 3
    assert rows[0]["id"] == "down/c.wav" and rows[0]["start_s"] < 1.25 and rows[0]["end_s"] > 0.5
    assert rows[0]["window"] == f"down/c.wav@{rows[0]['start_s']:.3f}-{rows[0]['end_s']:.3f}"
    assert main(["index", "build", model, audio, str(tmp_path / "x"), "--windows", "--store-frames"]) == 2
    assert "--windows with --store-frames" in capsys.readouterr().err
    assert main(["index", "build", model, audio, str(tmp_path / "x"), "--rerank-pool", "2"]) == 2
    assert "--rerank-pool needs --store-frames" in capsys.readouterr().err
    assert main(["index", "build", model, audio, str(tmp_path / "x"), "--store-frames", "--rerank-pool", "0"]) == 2
    assert "rerank_pool=0" in capsys.readouterr().err and not os.path.exists(tmp_path / "x" / "index.json")
    assert main(["index", "search", out, query, "--rerank", "5"]) == 2
    assert "built with --windows" in capsys.readouterr().err
