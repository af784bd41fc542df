"""Augmentation: shapes, determinism, and that pitch shift / time stretch do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from wav2tok_hf.data import (
    PITCH_SHIFT_SEMITONES,
    TIME_STRETCH_RATES,
    Augmenter,
    add_noise,
    apply_gain,
    pitch_shift,
    pitch_shifted,
    stretch_and_shift,
    time_stretch,
    time_stretched,
)

SR = 8000


def _sine(freq=440.0, seconds=3.0, sr=SR):
    return np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr).astype(np.float32)


def _dominant_hz(wave, sr=SR):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave)), n=1 << 17))
    return np.argmax(spectrum) * sr / (1 << 17)


@pytest.mark.parametrize("semitones", [-6, -3, 2, 5])
def test_pitch_shift_moves_the_dominant_frequency(semitones):
    out = pitch_shift(_sine(), SR, semitones)
    assert out.shape == (3 * SR,) and out.dtype == np.float32
    assert _dominant_hz(out) == pytest.approx(440 * 2 ** (semitones / 12), rel=0.005)


@pytest.mark.parametrize("rate", [0.8, 0.9, 1.25, 1.5])
def test_time_stretch_changes_length_not_pitch(rate):
    out = time_stretch(_sine(), SR, rate)
    assert len(out) == round(3 * SR / rate)
    assert _dominant_hz(out) == pytest.approx(440, rel=0.005)
    assert 0.8 < np.abs(out[SR // 2 : -SR // 2]).max() < 1.1


def test_combined_stretch_and_shift_at_16k():
    out = stretch_and_shift(_sine(300, 2.0, 16000), 16000, rate=1.25, semitones=-4)
    assert len(out) == 25600
    assert _dominant_hz(out, 16000) == pytest.approx(300 * 2 ** (-4 / 12), rel=0.005)


def test_short_and_identity_inputs():
    short = np.ones(100, dtype=np.float32)
    assert pitch_shift(short, SR, 3).shape == (100,)
    assert time_stretch(short, SR, 1.3).shape == (77,)
    np.testing.assert_array_equal(stretch_and_shift(short, SR), short)
    with pytest.raises(ValueError, match="rate"):
        time_stretch(short, SR, 0.0)


def test_noise_and_gain():
    wave = _sine()
    noisy = add_noise(wave, 10.0, np.random.default_rng(0))
    snr = 10 * np.log10(np.mean(wave**2) / np.mean((noisy - wave) ** 2))
    assert snr == pytest.approx(10.0, abs=0.1)
    recorded = add_noise(wave, 20.0, np.random.default_rng(0), noise=np.ones(500, dtype=np.float32))
    np.testing.assert_allclose(recorded - wave, np.sqrt(0.5) * 10 ** (-1), rtol=1e-3)
    np.testing.assert_allclose(apply_gain(wave, 6.0), wave * 10 ** 0.3, rtol=1e-5)


def test_augmenter_is_deterministic_and_in_range():
    wave = np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32)
    augment = Augmenter(snr_db=(20.0, 30.0), gain_db=(-3.0, 3.0))
    first = augment(wave, SR, np.random.default_rng(7))
    np.testing.assert_array_equal(first, augment(wave, SR, np.random.default_rng(7)))
    assert not np.array_equal(first, augment(wave, SR, np.random.default_rng(8)))
    lengths = [len(Augmenter()(wave, SR, np.random.default_rng(s))) for s in range(20)]
    assert min(lengths) >= 3 * SR / 1.5 - 1 and max(lengths) <= 3 * SR / 0.9 + 1


def test_evaluation_transforms():
    wave = _sine()
    assert len(time_stretched(wave, SR, rate=0.8)) == 30000
    assert len(time_stretched(wave, SR)) in {round(3 * SR / r) for r in TIME_STRETCH_RATES}
    shifted = pitch_shifted({"array": wave, "sampling_rate": SR}, semitones=None, seed=1)
    ratio = 12 * np.log2(_dominant_hz(shifted) / 440)
    assert round(ratio) in PITCH_SHIFT_SEMITONES and abs(ratio - round(ratio)) < 0.05
    np.testing.assert_array_equal(pitch_shifted(wave, SR, seed=1), shifted)
