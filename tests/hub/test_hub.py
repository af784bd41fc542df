"""Publishing on and loading from the Hub, against the Hub-protocol server of hub_server.py (no network).

`huggingface_hub`, `transformers` and `datasets` read ``HF_ENDPOINT`` when they are imported. Pushes through
`HfApi` run in this process with ``hub_client``, which points the two `huggingface_hub.constants` that `HfApi` reads
at call time at the server (and restores them). Every load runs in a fresh interpreter whose environment names the
server from its start (``hub_env``, ``run_python``): with the package, without it (remote code), and offline from
the cache once the server is stopped. (The fixtures live here, not in a conftest.py: the top-level tests import
``conftest`` by name, which a conftest.py in this folder would shadow.)
"""

from __future__ import annotations

import hashlib
import json
import socket

import numpy as np
import pytest
import torch
from hub_server import LocalHub, client_env, run_python

from wav2tok_hf import Wav2TokConfig, Wav2TokModel
from wav2tok_hf.cli import main
from wav2tok_hf.hub import HubConnectionError, push_model
from wav2tok_hf.model_card import (
    CardTemplateError,
    benchmark_markdown,
    default_template,
    model_card_fields,
    read_benchmark,
    render_model_card,
)

# huggingface_hub's LFS upload passes a file object as `data=`, which its HTTP client deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

MODEL_REPO = "tester/wav2tok-tiny"
DATASET_REPO = "tester/tiny-hums"
CARD_FIELDS = {
    "training_data": "Synthesised hums of Essen folk melodies (music21).",
    "training_audio": "synthetic audio of real melodies",
}
BENCHMARK = {
    "corpus": "essen-qbsh-test",
    "synthetic": True,
    "rows": [
        {"model": "wav2tok", "V": 0.8123, "TS": 0.7011, "PS": 0.6542, "search_s": 0.0021, "infer_s": 0.013},
        {"model": "mfcc-dtw", "V": 0.55, "TS": 0.41, "PS": None, "search_s": 0.25, "infer_s": 0.004},
    ],
}


TOKEN = "hf_test_token"


@pytest.fixture(scope="module")
def hub():
    running = LocalHub()
    yield running
    running.close()


@pytest.fixture(scope="module")
def hub_env(hub, tmp_path_factory) -> dict[str, str]:
    """Environment of a client subprocess talking to the test server (no Xet: the server speaks LFS).

    ``HF_HOME`` is shared by every subprocess of the module, so the offline process finds what the others cached.
    """
    return client_env(hub.url, str(tmp_path_factory.mktemp("hf_home")), TOKEN)


def point_client_at(patch: pytest.MonkeyPatch, url: str) -> None:
    """Make `HfApi` objects created from now on in this process use ``url`` (without Xet) and the test token."""
    from huggingface_hub import constants

    patch.setenv("HF_ENDPOINT", url)
    patch.setenv("HF_TOKEN", TOKEN)
    patch.setattr(constants, "ENDPOINT", url)
    patch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def hub_client(hub, monkeypatch) -> LocalHub:
    point_client_at(monkeypatch, hub.url)
    return hub


@pytest.fixture
def closed_endpoint(monkeypatch) -> str:
    """Point `HfApi` at a local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    point_client_at(monkeypatch, url)
    return url


def tiny_model() -> Wav2TokModel:
    torch.manual_seed(0)
    config = Wav2TokConfig(sampling_rate=8000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16, embedding_dim=8,
                           codebook_size=12)
    return Wav2TokModel(config).eval()


def fixed_wave() -> np.ndarray:
    t = np.arange(8000) / 8000
    rng = np.random.default_rng(0)
    wave = sum(np.sin(2 * np.pi * 250 * h * t * (1 + 0.3 * t)) / h for h in (1, 2, 3))
    return (0.3 * wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def published(hub, tmp_path_factory):
    """A tiny model pushed with push_model from a saved directory, with a benchmark JSON."""
    work = tmp_path_factory.mktemp("published")
    model = tiny_model()
    model.save_pretrained(work / "model")
    (work / "benchmark.json").write_text(json.dumps(BENCHMARK))
    wave = fixed_wave()
    np.save(work / "wave.npy", wave)
    with pytest.MonkeyPatch.context() as patch:
        point_client_at(patch, hub.url)
        commit = push_model(work / "model", MODEL_REPO, benchmark_json=work / "benchmark.json", card_fields=CARD_FIELDS)
    return {"commit": commit, "wave": str(work / "wave.npy"), "ids": model.encode(wave, sampling_rate=8000),
            "digest": weights_digest(model)}


@pytest.fixture(scope="module")
def installed_load(published, hub_env):
    """A fresh process with wav2tok_hf: load by repo id, a missing repo, and transformers' own push_to_hub."""
    return run_python(f"""
        import hashlib, json
        import numpy as np
        from wav2tok_hf import Wav2TokModel, Wav2TokProcessor
        from wav2tok_hf.hub import load_from_hub

        model, processor = load_from_hub({MODEL_REPO!r})
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode() + tensor.numpy().tobytes())
        ids = model.encode(np.load({published["wave"]!r}), sampling_rate=8000)
        try:
            load_from_hub("tester/no-such-model")
            missing = None
        except Exception as error:
            missing = [type(error).__name__, str(error)]
        model.push_to_hub("tester/via-transformers")
        Wav2TokProcessor.from_model_config(model.config).push_to_hub("tester/via-transformers")
        print(json.dumps({{"ids": ids, "digest": digest.hexdigest(), "text": processor.decode(ids),
                          "missing": missing, "types": [type(model).__name__, type(processor).__name__]}}))
    """, hub_env)


@pytest.fixture(scope="module")
def dataset_round_trip(hub_env):
    """A small Audio dataset pushed with datasets' push_to_hub and loaded back by repo id in a fresh process."""
    return run_python(f"""
        import json
        import numpy as np
        from datasets import Audio, Dataset, load_dataset

        rng = np.random.default_rng(0)
        waves = [(0.1 * rng.standard_normal(800 + 100 * i)).astype(np.float32) for i in range(3)]
        dataset = Dataset.from_dict({{"audio": [{{"array": w, "sampling_rate": 8000}} for w in waves],
                                     "label": ["a", "b", "a"]}}).cast_column("audio", Audio(sampling_rate=8000))
        dataset.push_to_hub({DATASET_REPO!r})
        back = load_dataset({DATASET_REPO!r}, split="train")
        error = max(float(np.abs(back[i]["audio"].get_all_samples().data.numpy()[0] - w).max())
                    for i, w in enumerate(waves))
        print(json.dumps({{"labels": list(back["label"]), "max_error": error}}))
    """, hub_env)


# ---------------------------------------------------------------------------------------------------- push + load
def test_push_is_one_commit_with_weights_code_processor_and_card(hub, published):
    repo = hub.storage.repo("model", MODEL_REPO)
    assert [c.title for c in repo.commits.values()] == ["initial commit", "Upload wav2tok model"]
    files = hub.files(MODEL_REPO)
    expected = {"config.json", "model.safetensors", "configuration_wav2tok.py", "modeling_wav2tok.py",
                "feature_extraction_wav2tok.py", "processing_wav2tok.py", "tokenization_wav2tok.py",
                "processor_config.json", "tokenizer_config.json", "vocab.json", "README.md", "benchmark.json"}
    assert expected <= set(files), sorted(files)
    assert repo.resolve("main").files["model.safetensors"].lfs_sha256  # uploaded through the LFS protocol
    assert not any(name.endswith((".bin", ".pkl")) for name in files)
    config = json.loads(files["config.json"])
    assert config["model_type"] == "wav2tok"
    assert config["auto_map"]["AutoModel"] == "modeling_wav2tok.Wav2TokModel"
    assert json.loads(files["benchmark.json"])[0]["corpus"] == "essen-qbsh-test"
    assert published["commit"].oid == repo.branches["main"]


def test_card_renders_benchmark_table_training_data_and_citation(hub, published):
    card = hub.files(MODEL_REPO)["README.md"].decode()
    assert "{{" not in card
    assert "| model | V (MRR) | TS (MRR) | PS (MRR) | search s/query | inference s/query |" in card
    assert "| wav2tok | 0.812 | 0.701 | 0.654 | 0.0021 | 0.013 |" in card
    assert "| mfcc-dtw | 0.550 | 0.410 | – | 0.25 | 0.004 |" in card
    assert "**essen-qbsh-test** (synthetic audio)" in card
    assert CARD_FIELDS["training_data"] in card and CARD_FIELDS["training_audio"] in card
    assert f'AutoModel.from_pretrained("{MODEL_REPO}", trust_remote_code=True)' in card
    assert "wav2tok: Deep Sequence Tokenizer for Audio Retrieval" in card and "Banerjee" in card
    assert card.startswith("---\nlicense: apache-2.0\n")


def test_load_by_repo_id_with_the_package(published, installed_load):
    assert installed_load["types"] == ["Wav2TokModel", "Wav2TokProcessor"]
    assert installed_load["digest"] == published["digest"]
    assert installed_load["ids"] == published["ids"]
    assert installed_load["text"] == " ".join(f"t{i}" for i in published["ids"])


def test_load_by_repo_id_without_the_package(published, hub_env):
    result = run_python(f"""
        import json, sys
        sys.modules["wav2tok_hf"] = None  # any import of the installed package now fails
        import numpy as np
        from transformers import AutoModel, AutoProcessor

        model = AutoModel.from_pretrained({MODEL_REPO!r}, trust_remote_code=True)
        processor = AutoProcessor.from_pretrained({MODEL_REPO!r}, trust_remote_code=True)
        ids = model.encode(np.load({published["wave"]!r}), sampling_rate=8000)
        print(json.dumps({{"ids": ids, "module": type(model).__module__, "text": processor.decode(ids)}}))
    """, hub_env)
    assert "wav2tok_hf" not in result["module"]
    assert result["ids"] == published["ids"]
    assert result["text"] == " ".join(f"t{i}" for i in published["ids"])


def test_transformers_push_to_hub_uploads_weights_code_and_processor(hub, installed_load):
    files = hub.files("tester/via-transformers")
    assert {"config.json", "model.safetensors", "modeling_wav2tok.py", "configuration_wav2tok.py",
            "processor_config.json", "processing_wav2tok.py", "vocab.json", "README.md"} <= set(files)
    auto_map = json.loads(files["processor_config.json"])["auto_map"]
    assert auto_map["AutoProcessor"] == "processing_wav2tok.Wav2TokProcessor"


def test_dataset_push_and_load_by_repo_id(hub, dataset_round_trip):
    assert dataset_round_trip["labels"] == ["a", "b", "a"]
    assert dataset_round_trip["max_error"] < 1e-3  # 16-bit audio encoding
    assert any(path.endswith(".parquet") for path in hub.files(DATASET_REPO, "dataset"))


def test_offline_load_from_the_cache_with_the_server_stopped(hub, published, installed_load, dataset_round_trip,
                                                             hub_env):
    with hub.stopped():
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])), timeout=2):
            pass
        result = run_python(f"""
            import json
            import numpy as np
            from datasets import load_dataset
            from transformers import AutoModel
            from wav2tok_hf.hub import load_from_hub

            model, processor = load_from_hub({MODEL_REPO!r})
            remote = AutoModel.from_pretrained({MODEL_REPO!r}, trust_remote_code=True)
            wave = np.load({published["wave"]!r})
            dataset = load_dataset({DATASET_REPO!r}, split="train")
            print(json.dumps({{"ids": model.encode(wave, sampling_rate=8000), "labels": list(dataset["label"]),
                              "remote_ids": remote.encode(wave, sampling_rate=8000)}}))
        """, {**hub_env, "HF_HUB_OFFLINE": "1"})
    assert result["ids"] == result["remote_ids"] == published["ids"]
    assert result["labels"] == ["a", "b", "a"]


# ---------------------------------------------------------------------------------------------------- bad input
def test_missing_repo_on_load_is_a_clear_error(installed_load):
    name, message = installed_load["missing"]
    assert name == "RepositoryNotFound"
    assert "tester/no-such-model" in message and "HF_ENDPOINT" in message


def test_other_model_type_is_refused_before_anything_is_sent(hub_client, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(ValueError, match="'bert' checkpoint, not a 'wav2tok' one"):
        push_model(tmp_path, "tester/not-wav2tok", card_fields=CARD_FIELDS)
    assert ("model", "tester/not-wav2tok") not in hub_client.storage.repos


def test_template_with_a_missing_field_names_it(hub_client, tmp_path):
    with pytest.raises(CardTemplateError) as info:
        push_model(tiny_model(), "tester/no-card", card_fields={"training_data": "hums"})
    assert info.value.missing == ["training_audio"]
    assert "{{training_audio}}" in str(info.value) and "card_fields" in str(info.value)
    template = tmp_path / "card.md"
    template.write_text("---\nlicense: {{license}}\n---\n# {{model_id}}\n{{ release_date }} {{undefined_thing}}\n")
    with pytest.raises(CardTemplateError, match=r"\{\{release_date\}\}, \{\{undefined_thing\}\}"):
        push_model(tiny_model(), "tester/no-card", template=template)
    assert ("model", "tester/no-card") not in hub_client.storage.repos


def test_unreachable_endpoint_is_a_clear_error(closed_endpoint):
    with pytest.raises(HubConnectionError) as info:
        push_model(tiny_model(), "tester/nowhere", card_fields=CARD_FIELDS)
    assert closed_endpoint in str(info.value) and "HF_ENDPOINT" in str(info.value)


def test_failed_commit_leaves_the_repository_unchanged(hub_client):
    push_model(tiny_model(), "tester/atomic", card_fields=CARD_FIELDS)
    before = hub_client.files("tester/atomic")
    hub_client.server.reject_commits = True
    try:
        with pytest.raises(Exception, match="commit rejected"):
            push_model(tiny_model(), "tester/atomic", benchmark_json=BENCHMARK,
                       card_fields={**CARD_FIELDS, "training_data": "changed"})
    finally:
        hub_client.server.reject_commits = False
    assert hub_client.files("tester/atomic") == before


def test_a_new_push_replaces_the_files_of_the_previous_one(hub_client, tmp_path):
    tiny_model().save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "training_config.json").write_text(json.dumps({"experiment": {"corpus": "essen"}}))
    push_model(tmp_path / "model", "tester/repush", benchmark_json=BENCHMARK, card_fields=CARD_FIELDS)
    assert {"benchmark.json", "training_config.json"} <= set(hub_client.files("tester/repush"))
    push_model(tiny_model(), "tester/repush", card_fields=CARD_FIELDS)
    files = hub_client.files("tester/repush")
    assert "benchmark.json" not in files and "training_config.json" not in files
    assert "No benchmark results were supplied" in files["README.md"].decode()
    assert {"model.safetensors", "modeling_wav2tok.py", ".gitattributes"} <= set(files)


def test_cli_push(hub_client, tmp_path, capsys):
    tiny_model().save_pretrained(tmp_path / "model")
    (tmp_path / "bench.json").write_text(json.dumps({"rows": BENCHMARK["rows"], "corpus": "cli-corpus",
                                                     "synthetic": False}))
    main(["push", str(tmp_path / "model"), "tester/cli", "--benchmark-json", str(tmp_path / "bench.json"),
          "--card-field", "training_data=Real hums.", "--card-field", "training_audio=real recordings",
          "--commit-message", "release 1"])
    assert capsys.readouterr().out.strip().startswith(f"{hub_client.url}/tester/cli/commit/")
    card = hub_client.files("tester/cli")["README.md"].decode()
    assert "**cli-corpus** (real recordings)" in card and "Real hums." in card
    assert list(hub_client.storage.repo("model", "tester/cli").commits.values())[-1].title == "release 1"


# ---------------------------------------------------------------------------------------------------- card parts
def test_read_benchmark_shows_skipped_metrics_and_extra_columns():
    result = read_benchmark({"corpus": "c", "rows": [{"model": "a", "V": 0.5, "top1": 0.25, "note": "text",
                                                       "PS": float("nan"), "TS": "skipped"}]})
    assert result.corpus == "c" and result.synthetic is None
    assert result.columns == ["V", "TS", "PS", "top1"]
    assert result.rows == [{"model": "a", "V": 0.5, "top1": 0.25, "PS": None, "TS": None}]


@pytest.mark.parametrize("other_spelling", [
    [{"model": "a", "V": 0.5}],  # a bare list of rows
    {"corpus": "c", "results": [{"model": "a"}]},  # "results" for "rows"
    {"dataset": "c", "rows": [{"model": "a"}]},  # "dataset" for "corpus"
    {"corpus": "c", "rows": [{"name": "a"}]},  # "name" for "model"
    {"corpus": "c", "synthetic": "real", "rows": [{"model": "a"}]},  # a string for the synthetic flag
])
def test_read_benchmark_refuses_other_spellings_naming_the_format(other_spelling):
    with pytest.raises(ValueError, match=r"expected \{'corpus': str, 'synthetic': bool, 'rows'"):
        read_benchmark(other_spelling)


def test_card_table_of_a_demo_report():
    """The JSON `wav2tok demo` writes: a distance column, top-1 columns and the corpus size."""
    report = {"corpus": "essen (unseen songs)", "synthetic": True, "num_queries": 40, "num_database": 20,
              "chance_mrr": 0.18, "rows": [{"model": "wav2tok", "distance": "levenshtein", "V": 0.9, "V_top1": 0.85,
                                            "TS": 0.8, "TS_top1": 0.7, "search_s": 0.001, "infer_s": 0.01}]}
    result = read_benchmark(report)
    assert result.columns == ["distance", "V", "TS", "search_s", "infer_s", "V_top1", "TS_top1"]
    table = benchmark_markdown([result])
    assert "**essen (unseen songs)** (synthetic audio, 40 queries, 20 database items, chance MRR 0.180)" in table
    assert "| wav2tok | levenshtein | 0.900 | 0.800 | 0.001 | 0.01 | 0.850 | 0.700 |" in table
    assert read_benchmark(report).to_dict()["num_queries"] == 40


def test_card_table_of_a_spoken_term_detection_report():
    """The JSON `scripts/benchmark_std.py` writes: F1 / MAP / time per search, the searched utterances, chance MAP."""
    report = {"corpus": "std-speechocean762", "synthetic": False, "num_queries": 141, "num_utterances": 200,
              "chance_map": 0.011, "rows": [{"model": "wav2tok", "ed_f1": 0.031, "ed_map": 0.026, "win_f1": 0.065,
                                            "win_map": 0.083, "results": [{"distance": "windowed_levenshtein"}]},
                                           {"model": "logmel-dtw", "sdtw_f1": 0.044, "sdtw_map": 0.047}]}
    table = benchmark_markdown([read_benchmark(report)])
    assert ("**std-speechocean762** (real recordings, 141 queries, 200 utterances searched, chance MAP 0.011)"
            in table)
    assert ("| model | STD F1 (subsequence ED) | STD MAP (subsequence ED) | STD F1 (S-DTW) | STD MAP (S-DTW) | "
            "STD F1 (windows) | STD MAP (windows) |") in table
    assert "| wav2tok | 0.031 | 0.026 | – | – | 0.065 | 0.083 |" in table


@pytest.mark.parametrize("bad", [{"corpus": "x"}, {"rows": []}, {"rows": ["not a row"]}, "not json"])
def test_read_benchmark_rejects_files_without_rows(tmp_path, bad):
    path = tmp_path / "bench.json"
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(ValueError, match="bench.json"):
        read_benchmark(path)


def test_card_details_name_the_frequency_convolutions():
    plain = Wav2TokModel(Wav2TokConfig(feature_type="cqt", hidden_size=16, embedding_dim=8))
    conv = Wav2TokModel(Wav2TokConfig(feature_type="cqt", hidden_size=16, embedding_dim=8, frequency_conv_channels=4))
    assert "convolutions" not in model_card_fields(plain, "me/plain")["model_details"]
    assert ("cqt (60 per frame), 3 convolutions of 4 channels over (frequency, time) pooled over frequency"
            in model_card_fields(conv, "me/conv")["model_details"])


def test_card_details_say_when_tokens_keep_durations():
    plain = Wav2TokModel(Wav2TokConfig(hidden_size=16, embedding_dim=8))
    capped = Wav2TokModel(Wav2TokConfig(hidden_size=16, embedding_dim=8, max_token_run=3))
    assert "Token string" not in model_card_fields(plain, "me/plain")["model_details"]
    assert ("| Token string | runs of a token longer than 3 frames give one token per 3 frames (48 ms)"
            in model_card_fields(capped, "me/capped")["model_details"])


def test_card_details_give_the_model_s_graph_search_width():
    plain = Wav2TokModel(Wav2TokConfig(hidden_size=16, embedding_dim=8))
    wide = Wav2TokModel(Wav2TokConfig(hidden_size=16, embedding_dim=8, graph_candidates=2048))
    assert "Graph search" not in model_card_fields(plain, "me/plain")["model_details"]
    assert "| Graph search | 2,048 items explored per query" in model_card_fields(wide, "me/wide")["model_details"]


def test_packaged_template_needs_the_training_fields():
    assert default_template().is_file()
    with pytest.raises(CardTemplateError) as info:
        render_model_card({"model_id": "me/m"})
    assert {"training_data", "training_audio", "benchmark_table", "model_details"} <= set(info.value.missing)


def test_model_push_to_hub_with_card_fields_renders_our_card(hub_client):
    tiny_model().push_to_hub("tester/model-push", card_fields=CARD_FIELDS, benchmark_json=BENCHMARK)
    files = hub_client.files("tester/model-push")
    assert {"model.safetensors", "modeling_wav2tok.py", "processor_config.json", "benchmark.json"} <= set(files)
    card = files["README.md"].decode()
    assert CARD_FIELDS["training_data"] in card and "wav2tok: Deep Sequence Tokenizer" in card
