"""Bad input to the command line gives one line that names the problem and what is accepted, before any work
starts (issue 22, defect 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import wav2tok_hf.cli as cli
from wav2tok_hf import Wav2TokConfig, Wav2TokModel


def run(argv: list[str], capsys) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    model = Wav2TokModel(Wav2TokConfig(sampling_rate=8000, hidden_size=16, embedding_dim=8, codebook_size=4))
    model.save_pretrained(folder)
    model.feature_extractor.save_pretrained(folder)
    return folder


def test_config_yaml_errors_and_code_tags(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmodel: {hidden_size: 16\n")
    assert "broken.yaml: not valid YAML at line 3" in run(["train", "--config", str(broken)], capsys)
    marker = tmp_path / "ran"
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(f"name: !!python/object/apply:os.makedirs [{str(marker)!r}]\n")
    assert "no !!python or other tags" in run(["train", "--config", str(tagged)], capsys)
    good = tmp_path / "good.yaml"
    good.write_text("name: x\n")
    assert "override value '[1'" in run(["train", "--config", str(good), "training.max_steps=[1"], capsys)
    assert not marker.exists()


def test_data_paths_are_checked_first(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep").write_text("x")
    assert "is an existing file" in run(["data", "essen", str(a_file)], capsys)
    assert "lies under" in run(["data", "essen", str(a_file / "out")], capsys)
    assert "already exists; pass --overwrite" in run(["data", "essen", str(full)], capsys)
    assert "--source" in run(["data", "speech-commands", str(tmp_path / "o"), "--source", str(a_file)], capsys)
    with pytest.raises(SystemExit):
        cli.main(["data", "essen", str(tmp_path / "o"), "--sampling-rate", "0"])
    assert "from 1000 to 1000000" in capsys.readouterr().err
    assert (full / "keep").read_text() == "x" and not (tmp_path / "o").exists()


def test_tokenize_names_bad_models_and_audio(tmp_path, saved_model, capsys):
    audio = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(audio, np.zeros(800, np.float32), 8000)
    assert "model folder './nowhere/model' not found" in run(["tokenize", "./nowhere/model", str(audio)], capsys)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert-ish"}))
    assert "model_type='bert-ish'; accepted: 'wav2tok'" in run(["tokenize", str(other), str(audio)], capsys)
    assert "is a folder; accepted: paths of audio files" in run(["tokenize", str(saved_model), str(tmp_path)], capsys)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    for path in saved_model.iterdir():
        data = path.read_bytes()
        (truncated / path.name).write_bytes(data[: len(data) // 2] if path.suffix == ".safetensors" else data)
    assert "(model.safetensors) are truncated or corrupt" in run(["tokenize", str(truncated), str(audio)], capsys)


def test_hub_http_errors_are_one_line(monkeypatch, capsys):
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    response = httpx2.Response(404, request=httpx2.Request("GET", "http://hub/api/models/x"))

    def not_found(args):
        raise HfHubHTTPError("404 Client Error: Not Found for url: http://hub/api/models/x\nRepository Not Found",
                             response=response)

    monkeypatch.setattr(cli, "_tokenize", not_found)
    assert "404 Client Error: Not Found" in run(["tokenize", "x/y", "a.wav"], capsys)


def test_pipeline_refuses_an_empty_list():
    from transformers import pipeline

    model = Wav2TokModel(Wav2TokConfig(sampling_rate=8000, hidden_size=16, embedding_dim=8, codebook_size=4))
    tok = pipeline("audio-tokenization", model=model, feature_extractor=model.feature_extractor)
    with pytest.raises(ValueError, match="empty list"):
        tok([])
