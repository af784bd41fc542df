"""One input, one answer (issue 22): the pipeline, ``model.encode``, ``index.search_audio`` and ``wav2tok tokenize``
agree on long, batched and odd inputs, whatever the model's mode and the number of torch threads."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import pipeline

import wav2tok_hf  # noqa: F401  (registers the task)
from wav2tok_hf import Wav2TokConfig, Wav2TokModel
from wav2tok_hf.cli import main as cli_main
from wav2tok_hf.retrieval.index import Wav2TokIndex

SR = 8000


@pytest.fixture(scope="module")
def model() -> Wav2TokModel:
    """A freshly initialised model (near-ties between codewords expose any difference), 1 s chunks."""
    torch.manual_seed(0)
    return Wav2TokModel(Wav2TokConfig(sampling_rate=SR, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                                      embedding_dim=8, codebook_size=8, num_layers=2, dropout=0.3,
                                      chunk_length_s=1.0)).eval()


def clip(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    tone = np.sin(2 * np.pi * np.cumsum(200 + 100 * np.sin(2 * np.pi * 0.5 * t)) / SR)
    return (0.3 * tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_pipeline_chunks_long_input_like_encode(model):
    """Before the fix the pipeline ran a 3.5 s input (3.5 chunks) in one pass: different tokens from encode."""
    tok = pipeline("audio-tokenization", model=model, feature_extractor=model.feature_extractor)
    long = clip(0, 3.5)
    ids, durations = model.encode(long, sampling_rate=SR, return_durations=True)
    out = tok(long)
    assert out["token_ids"] == ids and out["durations_s"] == durations
    assert sum(durations) == pytest.approx(model.feature_extractor.num_frames(len(long)) / model.config.frame_rate)


def test_pipeline_batches_give_the_answers_of_encode(model):
    tok = pipeline("audio-tokenization", model=model, feature_extractor=model.feature_extractor)
    waves = [clip(1, 0.4), clip(2, 2.6), clip(3, 1.0), clip(4, 0.05)]
    expected = model.encode(waves, sampling_rate=SR)
    assert [o["token_ids"] for o in tok(waves, batch_size=3)] == expected
    assert [o["token_ids"] for o in tok(waves)] == expected
    assert [model.encode(w, sampling_rate=SR) for w in waves] == expected


def test_search_audio_and_cli_tokenize_agree_with_encode(model, tmp_path, capsys):
    database = [clip(10 + i, 1.5 + 0.5 * i) for i in range(4)]
    index = Wav2TokIndex.from_encoder(model)
    index.add_audio(model, database, sampling_rate=SR, ids=[str(i) for i in range(4)])
    queries = [clip(20, 2.2), clip(21, 0.7)]
    via_audio = index.search_audio(model, queries, sampling_rate=SR)
    via_tokens = index.search(model.encode(queries, sampling_rate=SR))
    assert [list(r.indices) for r in via_audio] == [list(r.indices) for r in via_tokens]
    assert [list(r.scores) for r in via_audio] == [list(r.scores) for r in via_tokens]

    model.save_pretrained(tmp_path / "model")
    model.feature_extractor.save_pretrained(tmp_path / "model")
    path = tmp_path / "query.wav"
    sf.write(path, queries[0], SR, subtype="FLOAT")
    assert cli_main(["tokenize", str(tmp_path / "model"), str(path)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["tokens"] == " ".join(f"t{i}" for i in model.encode(queries[0], sampling_rate=SR))


def test_a_model_in_training_mode_is_not_switched_and_gives_inference_tokens(model):
    """Before the fix, encode set the shared model to eval mode for the call (and back): a thread training it, or
    encoding at the same time, saw the wrong mode; dropout then changed tokens."""
    wave = clip(5, 2.5)
    expected = model.encode(wave, sampling_rate=SR)
    training = Wav2TokModel(model.config)
    training.load_state_dict(model.state_dict())
    training.train()
    seen = []
    hook = training.register_forward_pre_hook(lambda module, args: seen.append(training.training))
    try:
        assert training.encode(wave, sampling_rate=SR) == expected
    finally:
        hook.remove()
    assert training.training and seen and all(seen)  # the caller's model stayed in training mode throughout

    results, errors = [], []

    def worker():
        try:
            for _ in range(3):
                results.append(training.encode(wave, sampling_rate=SR))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == [expected] * 9


def test_tokens_do_not_depend_on_the_number_of_torch_threads(model):
    waves = [clip(6, 3.2), clip(7, 0.9)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.encode(waves, sampling_rate=SR)
        torch.set_num_threads(2)
        two = model.encode(waves, sampling_rate=SR)
    finally:
        torch.set_num_threads(before)
    assert one == two
