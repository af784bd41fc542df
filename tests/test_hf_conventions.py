"""Regression tests for transformers conventions (issue 18): one section per item the issue lists.

Each test failed before its fix; transformers' own common mixins run in tests/transformers_suite.
"""

from __future__ import annotations

import json
from unittest.mock import PropertyMock, patch

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, pipeline

import wav2tok_hf  # noqa: F401  (registers the Auto classes and the pipeline task)
from wav2tok_hf import Wav2TokConfig, Wav2TokFeatureExtractor, Wav2TokModel, Wav2TokProcessor, Wav2TokTokenizer
from wav2tok_test_utils import tiny_config, tone


def unit_norm_rows(codebook: torch.Tensor) -> bool:
    norms = codebook.float().norm(dim=-1)
    return bool(torch.isfinite(norms).all() and torch.allclose(norms, torch.ones_like(norms), atol=1e-3))


# ---------------------------------------------------------------- 1. a 2-D array is a batch
def test_2d_array_is_a_batch_of_clips():
    fe = Wav2TokFeatureExtractor.from_model_config(tiny_config())
    clips = np.stack([tone(0.3, freq=f, seed=i) for i, f in enumerate((200, 300, 450))])
    batch = fe(clips, sampling_rate=8000, return_tensors="pt")["input_features"]
    assert batch.shape[0] == 3
    for row, clip in zip(batch, clips):
        torch.testing.assert_close(row, fe(clip, sampling_rate=8000, return_tensors="pt")["input_features"][0])
    model = Wav2TokModel(tiny_config())
    assert model.encode(clips, sampling_rate=8000) == [model.encode(c, sampling_rate=8000) for c in clips]
    assert model.encode(torch.from_numpy(clips), sampling_rate=8000) == model.encode(list(clips), sampling_rate=8000)


def test_multichannel_audio_has_an_explicit_path_and_samples_by_channels_is_refused():
    model = Wav2TokModel(tiny_config())
    mono = tone(0.5)
    stereo = np.stack([mono, mono])
    expected = model.encode(mono, sampling_rate=8000)
    assert model.encode({"array": stereo, "sampling_rate": 8000}) == expected  # one clip, channels averaged
    assert model.encode({"array": stereo.T, "sampling_rate": 8000}) == expected  # (samples, channels) too
    assert model.encode([stereo], sampling_rate=8000) == [expected]  # a 2-D element of a list is one clip
    with pytest.raises(ValueError, match=r"looks like \(samples, channels\).*'array'"):
        model.encode(stereo.T, sampling_rate=8000)  # 2 samples per "item": refused, not 4000 tiny clips


# ---------------------------------------------------------------- 2. the codebook is initialised
def test_codebook_is_initialised_without_weights_missing_key_and_on_meta(tmp_path):
    config = tiny_config()
    assert unit_norm_rows(Wav2TokModel.from_pretrained(None, config=config, state_dict={}).codebook)
    model = Wav2TokModel(config)
    model.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    del weights["codebook"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    assert unit_norm_rows(Wav2TokModel.from_pretrained(tmp_path).codebook)
    with torch.device("meta"):
        meta = Wav2TokModel(config)
    meta.to_empty(device="cpu")
    meta.codebook.fill_(0.0)  # what uninitialised memory may hold
    meta.init_weights()
    assert unit_norm_rows(meta.codebook)


def test_a_saved_codebook_is_loaded_not_reinitialised(tmp_path):
    model = Wav2TokModel(tiny_config())
    model.set_codebook(torch.eye(12, 8).roll(3, dims=1) + 0.1)
    model.save_pretrained(tmp_path)
    torch.testing.assert_close(Wav2TokModel.from_pretrained(tmp_path).codebook, model.codebook)


# ---------------------------------------------------------------- 3. half precision
@pytest.mark.parametrize("encoder_type", ["bilstm", "transformer"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_encode_embed_and_forward(encoder_type, dtype):
    torch.manual_seed(0)
    model = Wav2TokModel(tiny_config(encoder_type=encoder_type, num_attention_heads=2)).eval()
    wave = tone(0.3)
    reference = model.embed(wave, sampling_rate=8000)
    half = model.to(dtype)
    embeddings = half.embed(wave, sampling_rate=8000)
    assert embeddings.dtype == np.float32 and embeddings.shape == reference.shape
    assert np.abs(embeddings - reference).max() < 0.1  # the same embeddings, to half precision
    assert len(half.encode(wave, sampling_rate=8000)) >= 1
    features = half.feature_extractor(wave, sampling_rate=8000, return_tensors="pt")
    assert half(**features).embeddings.dtype == dtype  # float32 features are cast to the model's dtype


def test_pipeline_dtype_argument(tmp_path):
    Wav2TokModel(tiny_config(encoder_type="transformer", num_attention_heads=2)).save_pretrained(tmp_path)
    tok = pipeline("audio-tokenization", model=str(tmp_path), dtype=torch.bfloat16)
    assert tok.model.dtype == torch.bfloat16 and len(tok(tone(0.5))["token_ids"]) >= 1


# ---------------------------------------------------------------- 4. config checks
def test_config_overrides_and_attribute_changes_are_validated(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="encoder_type='gru'"):
        Wav2TokConfig.from_pretrained(tmp_path, encoder_type="gru")
    with pytest.raises(ValueError, match="encoder_type='gru'"):
        AutoConfig.from_pretrained(tmp_path, encoder_type="gru")
    config = tiny_config()
    config.hidden_size = 15  # odd: no BiLSTM halves
    with pytest.raises(Exception, match="hidden_size=15"):
        config.save_pretrained(tmp_path / "bad")
    assert not (tmp_path / "bad" / "config.json").exists()
    with pytest.raises(ValueError, match="hidden_size=15"):
        Wav2TokModel(config)


def test_config_num_hidden_layers_n_mels_and_feature_size():
    config = Wav2TokConfig(num_hidden_layers=3)
    assert config.num_layers == config.num_hidden_layers == 3
    config.num_hidden_layers = 1
    assert config.num_layers == 1
    assert Wav2TokConfig(n_mels=8).feature_size == 8  # n_mfcc (13) only matters for feature_type="mfcc"
    with pytest.raises(ValueError, match="n_mfcc=13 must not exceed n_mels=8"):
        Wav2TokConfig(n_mels=8, feature_type="mfcc")
    with pytest.raises(ValueError, match="feature_size=10 disagrees with the 64 dims"):
        Wav2TokConfig(feature_size=10)
    with pytest.raises(ValueError, match="feature_size=10 disagrees"):
        Wav2TokFeatureExtractor(feature_size=10)
    assert Wav2TokFeatureExtractor(feature_size=64).feature_size == 64  # a saved, agreeing value loads


# ---------------------------------------------------------------- 5. tokenizer with added tokens
def test_added_tokens_get_new_ids_and_survive_save(tmp_path):
    tok = Wav2TokTokenizer.from_codebook_size(5)
    assert tok.add_tokens(["<a>"]) == 1 and tok.add_tokens(["<b>"]) == 1
    assert tok.convert_tokens_to_ids(["<a>", "<b>"]) == [5, 6] and len(tok) == 7
    assert tok.get_vocab() == {**{f"t{i}": i for i in range(5)}, "<a>": 5, "<b>": 6}
    assert tok.encode("t1 <a> t4") == [1, 5, 4] and tok.decode([1, 6]) == "t1 <b>"
    tok.pad_token = "<pad>"
    assert tok.pad_token_id == 7 and len(tok) == 8
    tok.save_pretrained(tmp_path)
    loaded = Wav2TokTokenizer.from_pretrained(tmp_path)
    assert loaded.get_vocab() == tok.get_vocab() and loaded.pad_token_id == 7
    with pytest.raises(ValueError, match="Unknown token 't9'"):
        tok.encode("t9")  # without an unk_token an unknown token is still an error


# ---------------------------------------------------------------- 6. forward arguments
def test_forward_hidden_states_and_refused_arguments():
    model = Wav2TokModel(tiny_config(num_layers=2)).eval()
    features = model.feature_extractor([tone(0.3), tone(0.5)], sampling_rate=8000, return_tensors="pt")
    out = model(**features, output_hidden_states=True)
    assert len(out.hidden_states) == 2 and out.hidden_states[-1].shape == (2, features["input_features"].shape[1], 16)
    assert model(**features).hidden_states is None
    with pytest.raises(TypeError, match=r"\['labels'\].*no loss"):
        model(**features, labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match=r"\['attention_masks'\]"):
        model(features["input_features"], attention_masks=features["attention_mask"])
    with patch.object(Wav2TokConfig, "use_return_dict", new_callable=PropertyMock, side_effect=AssertionError):
        model(**features)  # the deprecated config.use_return_dict is not read (it warns on first use)


# ---------------------------------------------------------------- 7. standard call arguments
def test_feature_extractor_padding_arguments_and_default_output():
    fe = Wav2TokFeatureExtractor.from_model_config(tiny_config())
    clips = [tone(1.0), tone(0.5)]  # 63 and 32 frames
    default = fe(clips, sampling_rate=8000)
    assert not any(isinstance(v, torch.Tensor) for v in default.values())  # no torch unless asked
    assert fe(clips, sampling_rate=8000, padding="longest", return_tensors="np")["input_features"].shape[:2] == (2, 63)
    padded = fe(clips, sampling_rate=8000, padding="max_length", max_length=80, return_tensors="np")
    assert padded["input_features"].shape[:2] == (2, 80) and padded["attention_mask"].sum(1).tolist() == [63, 32]
    cut = fe(clips, sampling_rate=8000, padding="max_length", max_length=40, truncation=True, return_tensors="pt")
    assert cut["input_features"].shape[:2] == (2, 40) and cut["attention_mask"].sum(1).tolist() == [40, 32]
    multiple = fe(clips, sampling_rate=8000, pad_to_multiple_of=16, return_tensors="np")
    assert multiple["input_features"].shape[1] == 64
    ragged = fe(clips, sampling_rate=8000, padding=False)["input_features"]
    assert [len(x) for x in ragged] == [63, 32]


def test_processor_kwargs_convention_and_input_names(tmp_path):
    processor = Wav2TokProcessor.from_model_config(tiny_config())
    wave = tone(0.5)
    nested = processor(wave, audio_kwargs={"sampling_rate": 8000, "padding": "max_length", "max_length": 40},
                       common_kwargs={"return_tensors": "pt"})
    assert isinstance(nested["input_features"], torch.Tensor) and nested["input_features"].shape[1] == 40
    flat = processor(wave, sampling_rate=8000, return_tensors="pt")
    assert processor.model_input_names == ["input_features", "attention_mask"] == list(flat)
    with pytest.raises(TypeError, match="audio only"):
        processor(wave, text="t1 t2", sampling_rate=8000)


def test_pipeline_needs_no_preprocessor_config_and_takes_raw_dicts(tmp_path):
    model = Wav2TokModel(tiny_config())
    model.save_pretrained(tmp_path)  # config.json and weights only
    assert not (tmp_path / "preprocessor_config.json").exists()
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "wav2tok"
    tok = pipeline("audio-tokenization", model=str(tmp_path))
    wave = tone(1.0, sr=16000)
    expected = model.encode(wave, sampling_rate=16000)
    assert tok({"raw": wave, "sampling_rate": 16000})["token_ids"] == expected
    assert [o["token_ids"] for o in tok([{"raw": wave, "sampling_rate": 16000}] * 2, batch_size=2)] == [expected] * 2
