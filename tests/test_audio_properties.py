"""Property tests over the audio input layer (issue 22): any dtype, shape, rate, length and batch composition gives
the tokens of the canonical float32 input, or a clear error that names the input and what is accepted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wav2tok_hf import Wav2TokConfig, Wav2TokModel
from wav2tok_hf.audio_utils import load_audio

SR = 8000
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model() -> Wav2TokModel:
    torch.manual_seed(0)
    return Wav2TokModel(Wav2TokConfig(sampling_rate=SR, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                                      embedding_dim=8, codebook_size=6, chunk_length_s=1.0)).eval()


def pcm16(seed: int, length: int) -> np.ndarray:
    """Noise with a slow tone: int16 PCM whose float32 view (x / 32768) is the canonical input."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * (seed % 7)) * t) + 0.05 * rng.standard_normal(length)
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


lengths = st.integers(min_value=1, max_value=6000)
seeds = st.integers(min_value=0, max_value=10_000)


@PROPERTY
@given(seed=seeds, length=lengths, form=st.sampled_from(["int16", "int32", "float64", "tensor", "list", "tuple"]))
def test_every_encoding_of_one_signal_gives_the_canonical_tokens(model, seed, length, form):
    pcm = pcm16(seed, length)
    canonical = pcm.astype(np.float32) / 32768
    variants = {
        "int16": lambda: pcm,
        "int32": lambda: pcm.astype(np.int32) << 16,
        "float64": lambda: canonical.astype(np.float64),
        "tensor": lambda: torch.from_numpy(canonical.copy()),
        "list": lambda: canonical.tolist(),
        "tuple": lambda: tuple(canonical.tolist()),
    }
    assert model.encode(variants[form](), sampling_rate=SR) == model.encode(canonical, sampling_rate=SR)


@PROPERTY
@given(seed=seeds, length=lengths)
def test_uint8_pcm_is_centred_on_128(model, seed, length):
    u8 = (pcm16(seed, length).astype(np.int32) // 256 + 128).astype(np.uint8)
    canonical = (u8.astype(np.float32) - 128) / 128
    wave, _ = load_audio(u8, sampling_rate=SR)
    np.testing.assert_array_equal(wave, canonical)
    assert model.encode(u8, sampling_rate=SR) == model.encode(canonical, sampling_rate=SR)


@PROPERTY
@given(seed=seeds, length=st.integers(min_value=17, max_value=6000), channels=st.sampled_from([1, 2, 4]),
       layout=st.sampled_from(["channels_first", "channels_last"]))
def test_identical_channels_give_the_mono_tokens(model, seed, length, channels, layout):
    mono = pcm16(seed, length).astype(np.float32) / 32768
    stacked = np.stack([mono] * channels)
    stacked = stacked if layout == "channels_first" else stacked.T
    # A bare 2-D array is a batch (transformers' convention, issue 18): multi-channel audio goes in as a dict.
    assert model.encode({"array": stacked, "sampling_rate": SR}) == model.encode(mono, sampling_rate=SR)


@PROPERTY
@given(seed=seeds, length=lengths, rate=st.sampled_from([8000, 8000.0, np.int64(8000), np.int32(8000)]))
def test_integral_rates_of_any_type_are_the_same_rate(model, seed, length, rate):
    wave = pcm16(seed, length).astype(np.float32) / 32768
    assert model.encode(wave, sampling_rate=rate) == model.encode(wave, sampling_rate=8000)


@PROPERTY
@given(seeds_and_lengths=st.lists(st.tuples(seeds, st.integers(min_value=1, max_value=12_000)), min_size=1, max_size=5),
       batch_size=st.integers(min_value=1, max_value=4))
def test_tokens_do_not_depend_on_the_batch(model, seeds_and_lengths, batch_size):
    """Each input's tokens are those of the input alone, whatever the other inputs, their lengths and batch_size
    (inputs longer than chunk_length_s are chunked: use a 1 s chunk so the batch also mixes chunks)."""
    waves = [pcm16(s, n).astype(np.float32) / 32768 for s, n in seeds_and_lengths]
    alone = [model.encode(w, sampling_rate=SR) for w in waves]
    assert model.encode(waves, sampling_rate=SR, batch_size=batch_size) == alone


BAD_INPUTS = [
    (lambda: [0, 1, 2, 3] * 100, TypeError, "Python ints"),
    (lambda: np.zeros(400, np.int64), TypeError, "PCM sample width is unknown"),
    (lambda: np.zeros(400, bool), TypeError, "dtype bool"),
    (lambda: np.zeros(400, np.complex64), TypeError, "dtype complex64"),
    (lambda: np.full(400, 1e38, np.float32), ValueError, "peak amplitude"),
    (lambda: np.zeros((2, 3, 400), np.float32), ValueError, "3 dimensions"),
    (lambda: np.zeros((32, 400), np.float32), ValueError, "at most 16 channels"),
    (lambda: np.zeros(0, np.float32), ValueError, "empty"),
    (lambda: np.array([0.0, np.nan] * 200), ValueError, "NaN/inf"),
]


@pytest.mark.parametrize("make, error, message", BAD_INPUTS)
def test_bad_inputs_give_a_clear_error_naming_the_input(model, make, error, message):
    with pytest.raises(error, match=message) as raised:
        model.encode([np.zeros(800, np.float32), make()], sampling_rate=SR)
    assert "audio[1]" in str(raised.value)


@pytest.mark.parametrize("rate", [True, False, 0, -8000, 1, 999, 8000.5, "8000", None, float("nan"), 10**9])
def test_bad_rates_are_refused_before_any_work(model, rate):
    with pytest.raises(ValueError, match="sampling_rate"):
        model.encode(np.zeros(800, np.float32), sampling_rate=rate)


def test_none_in_a_batch_names_its_index(model):
    with pytest.raises(TypeError, match=r"audio\[2\].*NoneType"):
        model.encode([np.zeros(800, np.float32), np.zeros(900, np.float32), None], sampling_rate=SR)


@PROPERTY
@given(seed=seeds, length=st.integers(min_value=1, max_value=6000), offset=st.floats(min_value=-0.3, max_value=0.3))
def test_remove_dc_makes_features_blind_to_a_constant_offset(seed, length, offset):
    from wav2tok_hf import Wav2TokFeatureExtractor

    wave = pcm16(seed, length).astype(np.float32) / 32768
    fe = Wav2TokFeatureExtractor(sampling_rate=SR, n_fft=256, hop_length=128, n_mels=24, remove_dc=True)
    clean, mask = fe.featurize([wave])
    shifted, _ = fe.featurize([wave + np.float32(offset)])
    torch.testing.assert_close(shifted, clean, atol=2e-3, rtol=0)


def test_dc_offset_changes_features_without_remove_dc_and_not_with_it(model):
    """The default (off, as the released models were trained) is exposed to DC; the option removes it."""
    wave = pcm16(3, 8000).astype(np.float32) / 32768
    plain = model.feature_extractor
    assert (plain.featurize([wave + 0.01])[0] - plain.featurize([wave])[0]).abs().max() > 0.05
    config = Wav2TokConfig(**{**model.config.to_dict(), "remove_dc": True})
    dc_free = Wav2TokModel(config).eval()
    dc_free.load_state_dict(model.state_dict())
    assert dc_free.encode(wave + 0.01, sampling_rate=SR) == dc_free.encode(wave, sampling_rate=SR)
