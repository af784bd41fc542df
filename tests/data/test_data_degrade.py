"""Users'-recording conditions (data/degrade.py): what each transform does to a signal, seeding, the Degrader."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from wav2tok_hf.data import PairDataset
from wav2tok_hf.data.degrade import (QUERY_CONDITIONS, Degrader, degrade, list_degradations, load_noise_bank,
                                     mulaw_round_trip, room_impulse_responses)

SR = 16000


def tone(hz, seconds=1.0, amplitude=0.3):
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def band_power(wave, low, high):
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SR)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


@pytest.fixture(scope="module")
def noise_bank():
    rng = np.random.default_rng(0)
    return [(0.05 * rng.standard_normal(SR)).astype(np.float32) for _ in range(3)]


@pytest.fixture(scope="module")
def rir_bank():
    return room_impulse_responses(2, SR, rt60_s=(0.15, 0.25), seed=0)


def test_registry_names_every_benchmark_condition():
    assert set(QUERY_CONDITIONS) <= set(list_degradations())
    with pytest.raises(KeyError, match="registered"):
        degrade("vinyl", tone(440), SR)
    with pytest.raises(ValueError, match="mono waveform"):
        degrade("gain", np.zeros((2, 100)), SR)


def test_telephone_removes_the_wide_band_and_keeps_the_voice_band():
    wave = tone(1000) + tone(6000)
    out = degrade("telephone", wave, SR)
    assert out.shape == wave.shape and out.dtype == np.float32
    assert band_power(out, 5500, 6500) < 1e-4 * band_power(wave, 5500, 6500)
    assert band_power(out, 900, 1100) == pytest.approx(band_power(wave, 900, 1100), rel=0.2)
    low = degrade("telephone", tone(100), SR)
    assert band_power(low, 50, 150) < 0.1 * band_power(tone(100), 50, 150)


def test_mulaw_round_trip_is_close_but_quantised():
    wave = tone(440)
    out = mulaw_round_trip(wave)
    assert 0 < np.abs(out - wave).max() < 0.02
    assert len(np.unique(out)) <= 256


def test_noise_is_added_at_the_requested_snr(noise_bank):
    wave = tone(440)
    out = degrade("noise", wave, SR, seed=3, noise_bank=noise_bank, snr_db=10.0)
    added = out - wave
    assert 10 * np.log10(np.mean(wave**2) / np.mean(added**2)) == pytest.approx(10.0, abs=0.01)
    with pytest.raises(ValueError, match="noise_bank"):
        degrade("noise", wave, SR)


def test_reverb_spreads_a_click_and_keeps_the_level(rir_bank):
    click = np.zeros(SR, dtype=np.float32)
    click[1000] = 1.0
    out = degrade("reverb", click, SR, seed=0, rir_bank=rir_bank)
    assert out.shape == click.shape
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(click**2)), rel=1e-3)
    assert np.abs(out[1200:]).max() > 0.01 * np.abs(out).max()  # a tail after the direct sound
    assert np.abs(out[:990]).max() < 1e-6  # nothing before it (the propagation delay is removed)
    assert all(float(np.abs(r).max()) == 1.0 for r in rir_bank)


def test_eq_colours_the_spectrum_at_the_same_level():
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(SR)).astype(np.float32)
    out = degrade("eq", wave, SR, seed=1)
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(wave**2)), rel=1e-3)
    ratios = [band_power(out, lo, lo * 2) / band_power(wave, lo, lo * 2) for lo in (125, 250, 500, 1000, 2000, 4000)]
    assert max(ratios) / min(ratios) > 2.0
    np.testing.assert_array_equal(out, degrade("eq", wave, SR, seed=1))
    assert not np.array_equal(out, degrade("eq", wave, SR, seed=2))


def test_gain_and_dc_offset():
    wave = tone(440, amplitude=0.1)
    for seed in range(5):
        ratio = np.abs(degrade("gain", wave, SR, seed=seed)).max() / 0.1
        assert 10 ** (-20 / 20) - 1e-3 <= ratio <= min(10 ** (12 / 20), 10.0) + 1e-3
    loud = degrade("gain", wave, SR, gain_db=(30.0, 30.0))
    assert np.abs(loud).max() == 1.0  # clipped at full scale
    offset = degrade("dc", wave, SR, seed=0).mean() - wave.mean()
    assert 0.02 <= abs(offset) <= 0.1


def test_degrader_chains_conditions_and_plugs_into_pair_dataset(noise_bank, rir_bank):
    import datasets

    wave = tone(440)
    none = Degrader(conditions=("eq", "gain"), probability=0.0)
    np.testing.assert_array_equal(none(wave, SR, np.random.default_rng(0)), wave)
    every = Degrader(probability=1.0, noise_bank=noise_bank, rir_bank=rir_bank)
    out = every(wave, SR, np.random.default_rng(0))
    assert out.shape == wave.shape and not np.allclose(out, wave)
    np.testing.assert_array_equal(out, every(wave, SR, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="noise_bank"):
        Degrader(conditions=("noise",))
    with pytest.raises(ValueError, match="rir_bank"):
        Degrader(conditions=("reverb",))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        Degrader(conditions=("eq",), probability=1.5)
    rows = {"audio": [{"array": wave, "sampling_rate": SR}] * 2, "label": ["a", "a"]}
    pairs = PairDataset(datasets.Dataset.from_dict(rows), sampling_rate=SR, mode="unlabelled", crop_s=0.5,
                        augmenter=Degrader(conditions=("eq", "telephone"), probability=1.0))
    item = pairs[0]
    assert item["input_values_prime"].shape == (SR // 2,)


def test_noise_bank_halves_are_disjoint(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "_silence_").mkdir()
    (tmp_path / "yes").mkdir()
    for i in range(6):
        sf.write(tmp_path / "_silence_" / f"{i}.wav", 0.01 * (i + 1) * rng.standard_normal(SR), SR)
    sf.write(tmp_path / "_silence_" / "quiet.wav", np.zeros(SR), SR)
    sf.write(tmp_path / "yes" / "aa01_nohash_0.wav", 0.1 * rng.standard_normal(SR), SR)
    train, test = (load_noise_bank(tmp_path, part) for part in ("train", "test"))
    levels = lambda bank: {round(float(np.std(w)), 3) for w in bank}  # noqa: E731
    assert len(train) + len(test) == 6  # the digital-silence clip is dropped
    assert not levels(train) & levels(test)
    with pytest.raises(ValueError, match="part="):
        load_noise_bank(tmp_path, "dev")
