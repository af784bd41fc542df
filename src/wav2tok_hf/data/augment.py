"""Fast, seeded audio augmentation: pitch shift, time stretch, additive noise, gain; plus evaluation query transforms.

Time stretch is a phase vocoder (numpy STFT, phase accumulation vectorised as a cumulative sum); pitch shift by
``r = 2^(semitones/12)`` stretches by ``1/r`` and resamples (FFT, band-limited) back to the original length.
:func:`stretch_and_shift` does both in one vocoder pass. Random draws come from a ``numpy.random.Generator``.
numpy rather than ``torch.stft``: numpy's FFT is single-threaded, so throughput does not collapse when torch's
intra-op threads compete with a training process for the same cores (measured: ``torch.stft`` with 2 threads on 2
busy cores ran 15x slower than numpy; see ``scripts/bench_data.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import resample

from ..audio_utils import load_audio

TIME_STRETCH_RATES = (0.8, 1.25)
"""Rates of the time-stretched (TS) evaluation queries: 0.8 = 25 % longer (slower), 1.25 = 20 % shorter (faster)."""
PITCH_SHIFT_SEMITONES = (-5, -4, -3, -2, 2, 3, 4, 5)
"""Shifts of the pitch-shifted (PS) evaluation queries: ±2..5 semitones."""


def _n_fft(sampling_rate: int) -> int:
    """A ~64 ms analysis window: 512 samples at 8 kHz, 1024 at 16 kHz."""
    return int(2 ** round(math.log2(0.064 * sampling_rate)))


def _stft(wave: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    """Centred (zero-padded) STFT, ``(n_fft // 2 + 1, frames)``."""
    padded = np.pad(wave, (n_fft // 2, n_fft // 2))
    frames = sliding_window_view(padded, n_fft)[::hop]
    return np.fft.rfft(frames * window, axis=1).T


def _istft(spec: np.ndarray, n_fft: int, hop: int, window: np.ndarray, length: int) -> np.ndarray:
    """Inverse of :func:`_stft` by weighted overlap-add; frames ``k, k + n_fft/hop, ...`` do not overlap, so each
    of the ``n_fft / hop`` interleaved groups is added as one contiguous block."""
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    size = n_fft + hop * (frames.shape[0] - 1) + n_fft
    out, norm = np.zeros(size), np.zeros(size)
    for k in range(n_fft // hop):
        group = frames[k :: n_fft // hop]
        out[k * hop : k * hop + group.size] += group.reshape(-1)
        norm[k * hop : k * hop + group.size] += np.tile(window**2, len(group))
    out, norm = out[n_fft // 2 : n_fft // 2 + length], norm[n_fft // 2 : n_fft // 2 + length]
    return out / np.where(norm > 1e-8, norm, 1.0)


def _phase_vocoder(wave: np.ndarray, rate: float, n_fft: int) -> np.ndarray:
    """Time-stretch by ``rate`` (> 1 = faster/shorter), output length ``round(len / rate)``.

    Magnitudes are interpolated between analysis frames; phases advance by each bin's measured instantaneous
    frequency, accumulated for all output frames at once with ``cumsum``.
    """
    hop = n_fft // 4
    length = len(wave)
    window = np.hanning(n_fft + 1)[:-1]
    # Zero (not reflect) padding: a reflected first frame has inconsistent phases across bins, and the vocoder
    # propagates that first-frame phase to the whole output (partial cancellation of every partial).
    spec = np.pad(_stft(np.pad(wave, (0, max(0, n_fft - length))), n_fft, hop, window), ((0, 0), (0, 2)))
    steps = np.arange(0, spec.shape[1] - 2, rate)
    left = steps.astype(np.int64)
    alpha = steps - left
    before, after = spec[:, left], spec[:, left + 1]
    magnitude = (1 - alpha) * np.abs(before) + alpha * np.abs(after)
    expected = np.linspace(0, np.pi * hop, spec.shape[0])[:, None]
    delta = np.angle(after) - np.angle(before) - expected
    delta -= 2 * np.pi * np.round(delta / (2 * np.pi))
    increment = expected + delta
    phase = np.angle(spec[:, :1]) + np.cumsum(increment, axis=1) - increment
    return _istft(magnitude * np.exp(1j * phase), n_fft, hop, window, max(1, int(round(length / rate))))


def stretch_and_shift(wave: np.ndarray, sampling_rate: int, rate: float = 1.0, semitones: float = 0.0) -> np.ndarray:
    """Time-stretch by ``rate`` (> 1 = faster) and pitch-shift by ``semitones`` in one vocoder pass.

    Output length is ``round(len(wave) / rate)``.

    Example:
        >>> import numpy as np
        >>> wave = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype(np.float32)
        >>> stretch_and_shift(wave, 8000, rate=1.25, semitones=3).shape
        (6400,)
    """
    if rate <= 0:
        raise ValueError(f"time-stretch rate={rate} must be > 0 (1 = unchanged, 2 = twice as fast)")
    wave = np.asarray(wave, dtype=np.float32)
    if rate == 1.0 and semitones == 0:
        return wave.copy()
    ratio = 2.0 ** (semitones / 12.0)
    stretched = _phase_vocoder(wave.astype(np.float64), rate / ratio, _n_fft(sampling_rate))
    out_length = max(1, int(round(len(wave) / rate)))
    if semitones == 0:
        return stretched.astype(np.float32)
    return resample(stretched, out_length).astype(np.float32)


def time_stretch(wave: np.ndarray, sampling_rate: int, rate: float) -> np.ndarray:
    """Change tempo by ``rate`` (> 1 = faster, shorter) keeping the pitch."""
    return stretch_and_shift(wave, sampling_rate, rate=rate)


def pitch_shift(wave: np.ndarray, sampling_rate: int, semitones: float) -> np.ndarray:
    """Transpose by ``semitones`` keeping the duration."""
    return stretch_and_shift(wave, sampling_rate, semitones=semitones)


def pitch_shift_versions(audio: Any, semitones: Sequence[float],
                         sampling_rate: int | None = None) -> tuple[list[np.ndarray], int]:
    """One clip at each of ``semitones`` (0 = the clip itself), for a key search over query versions.

    Returns ``(waves, sampling_rate)``.

    Example:
        >>> import numpy as np
        >>> waves, rate = pitch_shift_versions(np.zeros(8000, dtype=np.float32), (-2, 0, 2), 8000)
        >>> len(waves), rate, waves[1].shape
        (3, 8000, (8000,))
    """
    wave, rate_hz = load_audio(audio, sampling_rate=sampling_rate)
    if isinstance(semitones, (str, bytes)) or not isinstance(semitones, Sequence) or not len(semitones):
        raise ValueError(f"semitones={semitones!r}; expected a non-empty list of pitch shifts, e.g. (-4, -2, 0, 2, 4)")
    if not all(isinstance(k, (int, float)) and not isinstance(k, bool) and np.isfinite(k) for k in semitones):
        raise ValueError(f"semitones={semitones!r}; every shift must be a finite number of semitones")
    return [wave if k == 0 else pitch_shift(wave, rate_hz, k) for k in semitones], rate_hz


def add_noise(
    wave: np.ndarray, snr_db: float, rng: np.random.Generator, noise: np.ndarray | None = None
) -> np.ndarray:
    """Add white noise (or a random segment of ``noise``, tiled if short) at ``snr_db`` dB below the signal power."""
    wave = np.asarray(wave, dtype=np.float32)
    if noise is None:
        segment = rng.standard_normal(len(wave)).astype(np.float32)
    else:
        noise = np.asarray(noise, dtype=np.float32)
        tiled = np.tile(noise, int(np.ceil(2 * len(wave) / len(noise))))
        start = int(rng.integers(0, len(tiled) - len(wave) + 1))
        segment = tiled[start : start + len(wave)]
    signal_power = float(np.mean(wave.astype(np.float64) ** 2))
    noise_power = float(np.mean(segment.astype(np.float64) ** 2)) + 1e-12
    return (wave + segment * np.sqrt(signal_power / noise_power * 10 ** (-snr_db / 10))).astype(np.float32)


def apply_gain(wave: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` decibels."""
    return (np.asarray(wave, dtype=np.float32) * np.float32(10 ** (gain_db / 20))).astype(np.float32)


@dataclass
class Augmenter:
    """Random augmentation with the paper's defaults for unlabelled pairs.

    Args:
        semitones: inclusive integer range of the pitch shift (``None`` disables it). Default ``(-6, 5)``.
        rates: range of the time-stretch rate, drawn uniformly (``None`` disables it). Default ``(0.9, 1.5)``.
        snr_db: range of the additive noise SNR (``None``, the default, adds no noise).
        gain_db: range of a random gain (``None``, the default, keeps the level).
        noise: optional noise recording used instead of white noise.

    Example:
        >>> import numpy as np
        >>> augment = Augmenter(snr_db=(20.0, 30.0))
        >>> wave = np.random.default_rng(0).standard_normal(24000).astype(np.float32)
        >>> out = augment(wave, 8000, np.random.default_rng(1))
        >>> out.dtype, 24000 / 1.5 <= len(out) <= 24000 / 0.9
        (dtype('float32'), True)
    """

    semitones: tuple[int, int] | None = (-6, 5)
    rates: tuple[float, float] | None = (0.9, 1.5)
    snr_db: tuple[float, float] | None = None
    gain_db: tuple[float, float] | None = None
    noise: np.ndarray | None = None

    def __call__(self, wave: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        semitones = int(rng.integers(self.semitones[0], self.semitones[1] + 1)) if self.semitones else 0
        rate = float(rng.uniform(*self.rates)) if self.rates else 1.0
        out = stretch_and_shift(wave, sampling_rate, rate=rate, semitones=semitones)
        if self.snr_db is not None:
            out = add_noise(out, float(rng.uniform(*self.snr_db)), rng, self.noise)
        if self.gain_db is not None:
            out = apply_gain(out, float(rng.uniform(*self.gain_db)))
        return out


def time_stretched(audio: Any, sampling_rate: int | None = None, rate: float | None = None, seed: int = 0) -> np.ndarray:
    """The time-stretched (TS) variant of an evaluation query.

    ``rate=None`` picks one of ``TIME_STRETCH_RATES`` = (0.8, 1.25) with ``seed``. ``audio`` is anything
    :func:`wav2tok_hf.audio_utils.load_audio` accepts (``sampling_rate`` is needed for raw arrays); the result stays
    at the input rate.

    Example:
        >>> import numpy as np
        >>> time_stretched(np.zeros(8000, dtype=np.float32), 8000, rate=0.8).shape
        (10000,)
    """
    wave, rate_hz = load_audio(audio, sampling_rate=sampling_rate)
    if rate is None:
        rate = float(np.random.default_rng(seed).choice(TIME_STRETCH_RATES))
    return time_stretch(wave, rate_hz, rate)


def pitch_shifted(audio: Any, sampling_rate: int | None = None, semitones: float | None = None, seed: int = 0) -> np.ndarray:
    """The pitch-shifted (PS) variant of an evaluation query.

    ``semitones=None`` picks one of ``PITCH_SHIFT_SEMITONES`` = ±2..5 with ``seed``. Same input rules as
    :func:`time_stretched`; the duration is kept.

    Example:
        >>> import numpy as np
        >>> pitch_shifted(np.zeros(8000, dtype=np.float32), 8000, semitones=-3).shape
        (8000,)
    """
    wave, rate_hz = load_audio(audio, sampling_rate=sampling_rate)
    if semitones is None:
        semitones = int(np.random.default_rng(seed).choice(PITCH_SHIFT_SEMITONES))
    return pitch_shift(wave, rate_hz, semitones)
