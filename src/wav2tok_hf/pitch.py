"""Pitch DSP in one place: the frame trackers, the key reference and Hz -> MIDI conversion.

- :func:`autocorrelation_pitch`: the ``pitch`` front end's batched torch tracker (exact under batch padding).
- :func:`pitch_class_key` / :func:`key_reference`: the key a transposition-invariant pitch track is taken relative to.
- :func:`harmonic_pitch`: the melody baselines' fast harmonic-summation tracker (numpy); :func:`pyin_pitch`:
  librosa's pYIN at the same frames; :func:`pitch_contour`: the app's YIN contour for the "see the tokens" picture.
- :func:`to_midi`: Hz -> MIDI with ``nan`` for unvoiced frames.

The two hand-written trackers earn their place: the autocorrelation tracker runs batched on the STFT the front end
already has (the released checkpoints' features depend on it bit for bit) and harmonic summation is ~200x faster
than pYIN on CPU (5 s clip at 8 kHz: 0.005 s vs 1.0 s); librosa's trackers are used where speed does not matter.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

_DIGITAL_SILENCE_DB = -60.0  # frame spectrum norm (dB) below which a frame is silence whatever the loudest frame


class FramePitch(NamedTuple):
    """Per-frame outputs of :func:`autocorrelation_pitch`, each ``(batch, frames)``."""

    semitones: torch.Tensor  # MIDI pitch of the autocorrelation peak (also in unvoiced frames)
    strength: torch.Tensor  # normalised autocorrelation at the peak, in [0, 1]
    energy: torch.Tensor  # log mean power of the frame
    voiced: torch.Tensor  # bool: inside the clip, periodic (strength > 0.5) and within ~40 dB of the loud frames


def autocorrelation_pitch(power: torch.Tensor, mask: torch.Tensor, n_fft: int, sampling_rate: int, fmin: float,
                          n_semitones: int) -> FramePitch:
    """Vectorised autocorrelation pitch tracker over STFT power frames ``(batch, frames, n_fft // 2 + 1)`` of a
    Hann-windowed signal, with a frame ``mask`` ``(batch, frames)``.

    Per frame: the window-corrected autocorrelation (Boersma 1993), computed from the power, gives the pitch period
    (peak lag in the range ``fmin .. fmin * 2**(n_semitones / 12)`` Hz, capped at a quarter of the rate, with a
    small octave cost and parabolic refinement) and its strength (voicing).

    Example:
        >>> sr, n_fft = 8000, 512
        >>> wave = torch.sin(2 * math.pi * 220.0 * torch.arange(4000) / sr)
        >>> window = torch.hann_window(n_fft)
        >>> spec = torch.stft(wave[None], n_fft, 128, window=window, center=False, return_complex=True)
        >>> power = spec.abs().pow(2).transpose(1, 2)
        >>> track = autocorrelation_pitch(power, torch.ones(power.shape[:2], dtype=torch.bool), n_fft, sr, 60.0, 60)
        >>> round(track.semitones[0, 5].item(), 1), bool(track.voiced.all())
        (57.0, True)
    """
    window = torch.hann_window(n_fft)
    acf = torch.fft.irfft(power, n=n_fft)[..., : n_fft // 2]
    window_acf = torch.fft.irfft(torch.fft.rfft(window).abs().pow(2), n=n_fft)[: n_fft // 2]
    acf = acf / window_acf.clamp(min=1e-3 * window_acf[0]) / (acf[..., :1] / window_acf[0] + 1e-10)
    fmax_pitch = min(fmin * 2.0 ** (n_semitones / 12), sampling_rate / 4)
    lag_min = max(2, int(sampling_rate / fmax_pitch))
    lag_max = min(n_fft // 2 - 2, int(math.ceil(sampling_rate / max(fmin, 1.0))))
    lags = torch.arange(lag_min, lag_max + 1)
    octave_cost = 0.02 * torch.log2(lags.float() / lag_min)
    candidates = acf[..., lag_min : lag_max + 1]
    best = (candidates - octave_cost).argmax(-1)
    strength = candidates.gather(-1, best[..., None])[..., 0].clamp(0, 1)
    # Parabolic refinement of the peak lag.
    i = (best + lag_min).clamp(1, acf.shape[-1] - 2)
    left, mid, right = (acf.gather(-1, (i + d)[..., None])[..., 0] for d in (-1, 0, 1))
    shift = (0.5 * (left - right) / (left - 2 * mid + right).clamp(max=-1e-6)).clamp(-0.5, 0.5)
    semitones = 12 * torch.log2(sampling_rate / (i.float() + shift) / 440.0) + 69  # MIDI pitch
    energy = torch.log(power.mean(-1) + 1e-8)
    loud = torch.nanquantile(energy.masked_fill(~mask, float("nan")), 0.95, dim=1, keepdim=True)
    voiced = mask & (strength > 0.5) & (energy > loud - 9.0)  # periodic and within ~40 dB of the loud frames
    return FramePitch(semitones, strength, energy, voiced)


def pitch_class_key(semitones: torch.Tensor, voiced: torch.Tensor, steady_only: bool = True) -> torch.Tensor:
    """Key reference of pitch tracks ``(batch, frames)`` in semitones with a voicing mask of the same shape: the
    circular mean of the pitch class over steady voiced frames (within half a semitone of both neighbours: no glides
    or tracker outliers; all voiced frames when none is steady), or with ``steady_only=False`` over every voiced
    frame, in semitones within ``[-6, 6]``. Octave errors and octave jumps do not move it, and it moves exactly with a
    transposition (mod 12). Used by the ``pitch`` front end (``pitch_reference="pitch-class"`` /
    ``"pitch-class-voiced"``) and by the ``pitch-contour-dtw`` baseline (steady frames).

    Which frames are steady depends on tiny tracking differences (vibrato, drift): the steady-frame key of one sung
    performance moved by 0.41 st on average (8% of pairs by more than 1 st) between four renderings of it, the
    all-voiced key by 0.27 st (5%) (MASTmelody validation performances; docs/RESULTS.md section 4a4).

    Example:
        >>> pitch = torch.tensor([[62.0] * 10 + [50.0] * 10])  # D, an octave apart
        >>> round(pitch_class_key(pitch, torch.ones_like(pitch, dtype=torch.bool)).item(), 3)
        2.0
        >>> glide = torch.tensor([[60.0] * 10 + [60.0 + 0.6 * k for k in range(1, 6)]])  # a C, then a fast glide up
        >>> on = torch.ones_like(glide, dtype=torch.bool)
        >>> round(pitch_class_key(glide, on).item(), 2), round(pitch_class_key(glide, on, steady_only=False).item(), 2)
        (0.0, 0.54)
    """
    weight = voiced.to(semitones.dtype)
    if steady_only:
        step = (semitones[:, 1:] - semitones[:, :-1]).abs() < 0.5
        steady = voiced.clone()
        steady[:, 1:] &= step
        steady[:, :-1] &= step
        weight = torch.where(steady.any(1, keepdim=True), steady, voiced).to(semitones.dtype)
    return _circular_mean(semitones, weight, 12.0)


def _circular_mean(values: torch.Tensor, weight: torch.Tensor, period: float) -> torch.Tensor:
    """Weighted circular mean per row of ``values`` ``(batch, frames)`` taken modulo ``period``, in
    ``[-period / 2, period / 2]``: the pitch class (period 12) or the tuning (period 1) of a pitch track."""
    angle = values * (2 * math.pi / period)
    return torch.atan2((angle.sin() * weight).sum(1), (angle.cos() * weight).sum(1)) * (period / (2 * math.pi))


def key_reference(semitones: torch.Tensor, voiced: torch.Tensor, kind: str = "mean") -> torch.Tensor:
    """Per-clip key reference ``(batch,)`` of pitch tracks ``(batch, frames)``: ``"mean"``, a winsorised mean of the
    voiced pitch (interquartile clip; 69 when nothing is voiced), exactly equivariant under transposition and, unlike
    the median, not jumping between notes when two notes share the middle; ``"pitch-class"``, the
    :func:`pitch_class_key` (over steady frames) placed in the octave nearest that mean (still exactly
    transposition-equivariant); ``"pitch-class-voiced"``, the same over every voiced frame; ``"pitch-class-tuned"``,
    the clip's tuning (circular mean of the voiced pitch modulo one semitone, every voiced frame: steadier than the
    key) plus the whole number of semitones nearest the steady key, so that two estimates of one performance differ
    by whole semitones only, which a key search over whole-semitone offsets undoes exactly.

    Example:
        >>> pitch = torch.tensor([[60.0, 62.0, 64.0, 65.0, 67.0]])
        >>> voiced = torch.ones_like(pitch, dtype=torch.bool)
        >>> key_reference(pitch, voiced).tolist(), key_reference(pitch + 2, voiced).tolist()
        ([63.599998474121094], [65.5999984741211])
    """
    pitch = semitones.masked_fill(~voiced, float("nan"))
    low, high = torch.nanquantile(pitch, 0.25, dim=1, keepdim=True), torch.nanquantile(pitch, 0.75, dim=1, keepdim=True)
    clipped = torch.minimum(torch.maximum(semitones, low), high) * voiced
    reference = (clipped.sum(1) / voiced.sum(1).clamp(min=1)).nan_to_num(69.0)
    if kind in ("pitch-class", "pitch-class-voiced", "pitch-class-tuned"):
        key = pitch_class_key(semitones, voiced, steady_only=kind != "pitch-class-voiced")
        if kind == "pitch-class-tuned":
            tuning = _circular_mean(semitones, voiced.to(semitones.dtype), 1.0)
            key = tuning + torch.round(key - tuning)
        reference = key + 12 * torch.round((reference - key) / 12)
    return reference


def harmonic_pitch(
    wave: np.ndarray, sampling_rate: int, hop_length: int, fmin: float = 70.0, fmax: float = 1000.0,
    n_harmonics: int = 5, harmonic_decay: float = 0.8, bins_per_semitone: int = 3, silence_db: float = 35.0,
) -> np.ndarray:
    """Fast monophonic pitch track by harmonic summation; MIDI pitch per frame, NaN where unvoiced.

    The salience of a candidate f0 is the sum over harmonics ``h`` of ``harmonic_decay ** (h - 1)`` times the
    (square-root) magnitude spectrum at ``h * f0``, computed for all frames and candidates in one matrix product;
    frames quieter than ``silence_db`` below the loudest frame, and digital silence, are unvoiced.

    Example:
        >>> import numpy as np
        >>> tone = np.sin(2 * np.pi * 440.0 * np.arange(8000) / 8000).astype(np.float32)
        >>> float(np.round(np.nanmedian(harmonic_pitch(tone, 8000, hop_length=128)), 1))
        69.0
    """
    import librosa

    n_fft = int(2 ** np.ceil(np.log2(sampling_rate * 0.128)))
    magnitude = np.abs(librosa.stft(wave, n_fft=n_fft, hop_length=hop_length))  # (bins, frames)
    spectrum = np.sqrt(magnitude)
    midi_grid = np.arange(np.ceil(librosa.hz_to_midi(fmin)), librosa.hz_to_midi(fmax), 1.0 / bins_per_semitone)
    f0 = librosa.midi_to_hz(midi_grid)
    template = np.zeros((spectrum.shape[0], len(midi_grid)), dtype=np.float32)
    for h in range(1, n_harmonics + 1):
        position = h * f0 * n_fft / sampling_rate
        low = np.floor(position).astype(int)
        frac = position - low
        ok = low + 1 < spectrum.shape[0]
        columns = np.flatnonzero(ok)
        weight = harmonic_decay ** (h - 1)
        np.add.at(template, (low[ok], columns), weight * (1 - frac[ok]))
        np.add.at(template, (low[ok] + 1, columns), weight * frac[ok])
    salience = spectrum.T @ template  # (frames, candidates)
    pitch = midi_grid[np.argmax(salience, axis=1)]
    energy_db = 20 * np.log10(np.linalg.norm(magnitude, axis=0) + 1e-10)
    voiced = (energy_db >= energy_db.max() - silence_db) & (energy_db > _DIGITAL_SILENCE_DB)
    return np.where(voiced, pitch, np.nan)


def pyin_pitch(wave: np.ndarray, sampling_rate: int, hop_length: int, fmin: float = 70.0,
               fmax: float = 1000.0) -> np.ndarray:
    """librosa's pYIN track (64 ms frames) at the frames of :func:`harmonic_pitch`; MIDI per frame, NaN where
    unvoiced.

    Example:
        >>> tone = np.sin(2 * np.pi * 440.0 * np.arange(4000) / 8000).astype(np.float32)
        >>> float(np.round(np.nanmedian(pyin_pitch(tone, 8000, hop_length=128))))
        69.0
    """
    import librosa

    frame_length = int(2 ** np.ceil(np.log2(sampling_rate * 0.064)))
    f0, _, _ = librosa.pyin(wave, fmin=fmin, fmax=fmax, sr=sampling_rate, frame_length=frame_length,
                            hop_length=hop_length)
    return librosa.hz_to_midi(f0)


def pitch_contour(wave: np.ndarray, sampling_rate: int, fmin: float = 65.0, fmax: float = 1000.0,
                  hop_length: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """``(times_s, midi)`` of a YIN pitch track (librosa), ``nan`` where the frame is quiet (below -35 dB of the
    loudest frame) or the period estimate is unreliable.

    Example:
        >>> tone = np.sin(2 * np.pi * 220.0 * np.arange(16000) / 16000).astype(np.float32)
        >>> times, midi = pitch_contour(tone, 16000)
        >>> len(times) == len(midi), float(np.round(np.nanmedian(midi)))
        (True, 57.0)
    """
    import librosa

    frame_length = 2048 if sampling_rate > 12000 else 1024
    fmax = min(fmax, sampling_rate / 4)
    f0 = librosa.yin(wave, fmin=fmin, fmax=fmax, sr=sampling_rate, frame_length=frame_length, hop_length=hop_length)
    rms = librosa.feature.rms(y=wave, frame_length=frame_length, hop_length=hop_length)[0][: len(f0)]
    voiced = librosa.amplitude_to_db(rms, ref=np.max) > -35
    midi = np.where(voiced, librosa.hz_to_midi(f0), np.nan)
    return librosa.frames_to_time(np.arange(len(f0)), sr=sampling_rate, hop_length=hop_length), midi


def to_midi(f0_hz: np.ndarray) -> np.ndarray:
    """Hz -> MIDI with ``nan`` for unvoiced (``f0 <= 0``) frames.

    Example:
        >>> to_midi(np.array([440.0, 0.0, 220.0])).tolist()
        [69.0, nan, 57.0]
    """
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f0_hz > 0, 69.0 + 12.0 * np.log2(f0_hz / 440.0), np.nan)


__all__ = ["FramePitch", "autocorrelation_pitch", "harmonic_pitch", "key_reference", "pitch_class_key",
           "pitch_contour", "pyin_pitch", "to_midi"]
