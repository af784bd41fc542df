"""Vectorised numpy synthesis of melodies: a plain reference timbre, a piano-like timbre and a simulated singer
(plus :func:`render_f0_track_mir_eval`, another project's synthesiser of pitch tracks).

Everything is computed per sample with array operations: the phase is the cumulative sum of the instantaneous
frequency, harmonics come from the Chebyshev recursion ``sin((h+1)φ) = 2 cos φ · sin(hφ) − sin((h−1)φ)`` (no extra
``sin`` calls), and the spectral envelope (formants) is evaluated at a 4 ms control rate and interpolated. A note
list is ``(midi, duration_s)`` pairs with ``nan`` pitch for rests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, lfilter, sawtooth, square

# (centre Hz, bandwidth Hz, relative gain) of the first three formants; "hum" is the nasal murmur of a closed-mouth /m/.
FORMANTS = {
    "hum": ((250.0, 80.0, 1.0), (1100.0, 300.0, 0.06), (2300.0, 400.0, 0.03)),
    "a": ((730.0, 90.0, 1.0), (1090.0, 110.0, 0.5), (2440.0, 170.0, 0.2)),
    "o": ((570.0, 80.0, 1.0), (840.0, 100.0, 0.45), (2410.0, 170.0, 0.1)),
    "u": ((300.0, 60.0, 1.0), (870.0, 100.0, 0.25), (2240.0, 170.0, 0.06)),
    "e": ((530.0, 80.0, 1.0), (1840.0, 120.0, 0.4), (2480.0, 170.0, 0.25)),
}
VOICE_TIMBRES = tuple(FORMANTS)
MIR_EVAL_WAVES = {"sine": np.sin, "sawtooth": sawtooth, "square": square}  # 2π-periodic wave functions
_CONTROL_HOP = 32


def midi_to_hz(midi: np.ndarray) -> np.ndarray:
    return 440.0 * np.power(2.0, (np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _forward_fill(values: np.ndarray) -> np.ndarray:
    """Replace NaNs by the previous finite value (leading NaNs by the first finite one)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError("a melody needs at least one pitched note; got only rests")
    index = np.where(finite, np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    filled[: np.argmax(finite)] = values[np.argmax(finite)]
    return filled


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average with edge padding (cumsum form, O(n))."""
    if width <= 1:
        return x
    padded = np.pad(x, (width // 2, width - width // 2), mode="edge")
    csum = np.cumsum(padded, dtype=np.float64)
    return (csum[width:] - csum[:-width])[: len(x)] / width


@dataclass(frozen=True)
class NoteTrack:
    """Per-sample view of a note list: note index, pitch (rests hold the previous pitch), voicing and note timing."""

    index: np.ndarray
    midi: np.ndarray
    voiced: np.ndarray
    since_onset_s: np.ndarray
    until_offset_s: np.ndarray


def note_track(midi: np.ndarray, durations_s: np.ndarray, sampling_rate: int) -> NoteTrack:
    midi = np.asarray(midi, dtype=np.float64)
    bounds = np.round(np.cumsum(durations_s) * sampling_rate).astype(np.int64)
    starts = np.concatenate([[0], bounds[:-1]])
    index = np.repeat(np.arange(len(midi)), np.maximum(bounds - starts, 0))
    t = np.arange(len(index))
    return NoteTrack(
        index=index,
        midi=_forward_fill(midi)[index],
        voiced=np.isfinite(midi)[index],
        since_onset_s=(t - starts[index]) / sampling_rate,
        until_offset_s=(bounds[index] - t) / sampling_rate,
    )


def harmonic_synth(f0_hz: np.ndarray, amplitude: np.ndarray, sampling_rate: int, harmonic_gains, max_harmonics: int = 24):
    """Sum of harmonics of a time-varying ``f0`` with gains ``harmonic_gains(h, freqs_hz) -> gains`` (both ``(H, m)``).

    Harmonics above 0.45 × the sampling rate are muted, so nothing aliases.
    """
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    phase = 2.0 * np.pi * np.cumsum(f0_hz) / sampling_rate
    control = f0_hz[::_CONTROL_HOP]
    n_harmonics = int(min(max_harmonics, max(1, np.floor(0.45 * sampling_rate / max(control.min(), 1.0)))))
    h = np.arange(1, n_harmonics + 1, dtype=np.float64)[:, None]
    freqs = h * control[None, :]
    gains = harmonic_gains(h, freqs) * (freqs < 0.45 * sampling_rate)
    position = np.arange(len(f0_hz)) / _CONTROL_HOP
    left = np.minimum(position.astype(np.int64), gains.shape[1] - 1)
    right = np.minimum(left + 1, gains.shape[1] - 1)
    frac = position - left
    sin_prev, sin_cur = np.zeros_like(phase), np.sin(phase)
    two_cos = 2.0 * np.cos(phase)
    out = np.zeros_like(phase)
    for k in range(n_harmonics):
        out += (gains[k, left] * (1.0 - frac) + gains[k, right] * frac) * sin_cur
        sin_prev, sin_cur = sin_cur, two_cos * sin_cur - sin_prev
    return (out * amplitude).astype(np.float32)


def plain_gains(h: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """A soft, flute/organ-like spectrum: five harmonics falling as 1/h^1.2."""
    return np.where(h <= 5, h**-1.2, 0.0) * np.ones_like(freqs)


def piano_gains(h: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """A bright, piano-like spectrum (1/h^1.4 with a gentle roll-off above 2.5 kHz)."""
    return h**-1.4 / (1.0 + (freqs / 2500.0) ** 2)


def voice_gains(vowel: str, formant_scale: float = 1.0):
    """Glottal-source tilt times a three-formant (Lorentzian) envelope of ``vowel`` (one of ``VOICE_TIMBRES``)."""
    if vowel not in FORMANTS:
        raise ValueError(f"unknown vowel {vowel!r}; accepted: {VOICE_TIMBRES}")
    formants = FORMANTS[vowel]
    tilt = 1.6 if vowel == "hum" else 1.0

    def gains(h: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        envelope = np.full_like(freqs, 0.02)
        for centre, bandwidth, gain in formants:
            envelope += gain / (1.0 + ((freqs - centre * formant_scale) / (0.5 * bandwidth * formant_scale)) ** 2)
        return h**-tilt * envelope

    return gains


def _envelope(track: NoteTrack, attack_s: float, release_s: float) -> np.ndarray:
    rise = np.clip(track.since_onset_s / attack_s, 0.0, 1.0)
    fall = np.clip(track.until_offset_s / release_s, 0.0, 1.0)
    return rise * fall * track.voiced


def _normalise(wave: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.max(np.abs(wave)))
    return (wave * (peak / top)).astype(np.float32) if top > 0 else wave.astype(np.float32)


def render_reference(midi: np.ndarray, durations_s: np.ndarray, sampling_rate: int = 8000) -> np.ndarray:
    """Render a note list with the plain timbre: five harmonics, 15 ms attack, gentle decay, 40 ms release."""
    track = note_track(midi, durations_s, sampling_rate)
    amplitude = _envelope(track, 0.015, 0.04) * (0.6 + 0.4 * np.exp(-track.since_onset_s / 0.8))
    return _normalise(harmonic_synth(midi_to_hz(track.midi), amplitude, sampling_rate, plain_gains), 0.7)


def render_f0_track(
    times_s: np.ndarray,
    f0_hz: np.ndarray,
    sampling_rate: int = 8000,
    timbre: str = "hum",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Re-synthesise audio from a pitch track (``f0 = 0`` marks unvoiced frames).

    ``timbre="piano"`` gives a piano-like tone that re-attacks and decays at every voicing onset or pitch jump
    (> 0.7 semitone); any vowel of ``VOICE_TIMBRES`` gives a sung/hummed voice with soft 20 ms voicing fades and
    faint breath noise (drawn from ``rng``; a fixed seed when ``None``).
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    f0_hz = np.asarray(f0_hz, dtype=np.float64)
    voiced = f0_hz > 0
    if voiced.sum() < 2:
        raise ValueError("pitch track has fewer than two voiced frames; nothing to render")
    t = np.arange(int(np.ceil(times_s[-1] * sampling_rate)) + 1) / sampling_rate
    midi = 69.0 + 12.0 * np.log2(np.where(voiced, f0_hz, np.nan) / 440.0)
    frame_midi = _forward_fill(midi)
    sample_midi = np.interp(t, times_s, frame_midi)
    gate = _moving_average(np.interp(t, times_s, voiced.astype(np.float64)), max(1, int(0.02 * sampling_rate)))
    f0 = midi_to_hz(sample_midi)
    if timbre == "piano":
        onset = voiced & (~np.concatenate([[False], voiced[:-1]]) | (np.abs(np.diff(frame_midi, prepend=frame_midi[0])) > 0.7))
        onset_times = times_s[onset]
        last = np.searchsorted(onset_times, t, side="right") - 1
        since = t - onset_times[np.maximum(last, 0)]
        amplitude = gate * np.exp(-since / 0.7) * np.minimum(since / 0.005, 1.0)
        return _normalise(harmonic_synth(f0, amplitude, sampling_rate, piano_gains), 0.7)
    rng = rng if rng is not None else np.random.default_rng(0)
    wave = harmonic_synth(f0, gate, sampling_rate, voice_gains(timbre))
    breath = _bandpassed_noise(len(wave), sampling_rate, rng) * gate
    wave = wave + breath * (np.std(wave) / (np.std(breath) + 1e-9)) * 10 ** (-28.0 / 20)
    return _normalise(wave, 0.7)


def render_f0_track_mir_eval(
    times_s: np.ndarray, f0_hz: np.ndarray, sampling_rate: int = 8000, wave: str = "sine"
) -> np.ndarray:
    """Re-synthesise a pitch track with another project's synthesiser: ``mir_eval.sonify.pitch_contour`` with a wave
    of ``MIR_EVAL_WAVES`` at constant amplitude, peak-normalised to 0.7 and as long as :func:`render_f0_track`'s
    rendering. Where ``f0 <= 0`` the phase stops: the wave holds a constant value there rather than falling silent.

    Example:
        >>> times = np.arange(0.0, 1.0, 0.01)
        >>> audio = render_f0_track_mir_eval(times, np.where(times > 0.5, 220.0, 0.0), 8000, "square")
        >>> audio.shape, audio.dtype, round(float(np.abs(audio).max()), 3)
        ((7921,), dtype('float32'), 0.7)
    """
    if wave not in MIR_EVAL_WAVES:
        raise ValueError(f"unknown mir_eval wave {wave!r}; accepted: {tuple(MIR_EVAL_WAVES)}")
    from mir_eval.sonify import pitch_contour

    times_s = np.asarray(times_s, dtype=np.float64)
    length = int(np.ceil(times_s[-1] * sampling_rate)) + 1
    audio = pitch_contour(times_s, np.asarray(f0_hz, dtype=np.float64), sampling_rate, function=MIR_EVAL_WAVES[wave],
                          length=length)
    return _normalise(audio, 0.7)


def _bandpassed_noise(n: int, sampling_rate: int, rng: np.random.Generator, low: float = 300.0, high: float = 3000.0):
    nyquist = sampling_rate / 2
    b, a = butter(2, [low / nyquist, min(high, 0.9 * nyquist) / nyquist], btype="band")
    return lfilter(b, a, rng.standard_normal(n))


@dataclass(frozen=True)
class SingerStyle:
    """How one simulated singer renders a melody (all drawn by :meth:`SingerStyle.sample`)."""

    key_shift: int
    tempo: float
    timing_jitter: float
    intonation_cents: float
    drift_cents: float
    vibrato_hz: float
    vibrato_cents: float
    glide_s: float
    p_wrong: float
    p_skip: float
    p_extra: float
    timbre: str
    formant_scale: float
    breath_snr_db: float
    noise_snr_db: float
    octave_jumps_per_s: float = 0.0
    gaps_per_s: float = 0.0

    @classmethod
    def sample(cls, rng: np.random.Generator, key_shift_range=(-5, 6), tempo_range=(0.8, 1.25)) -> "SingerStyle":
        return cls(
            key_shift=int(rng.integers(key_shift_range[0], key_shift_range[1] + 1)),
            tempo=float(np.exp(rng.uniform(np.log(tempo_range[0]), np.log(tempo_range[1])))),
            timing_jitter=float(rng.uniform(0.03, 0.15)),
            intonation_cents=float(rng.uniform(10.0, 40.0)),
            drift_cents=float(rng.uniform(2.0, 12.0)),
            vibrato_hz=float(rng.uniform(4.5, 6.5)),
            vibrato_cents=float(rng.uniform(0.0, 45.0)),
            glide_s=float(rng.uniform(0.02, 0.12)),
            p_wrong=float(rng.uniform(0.0, 0.06)),
            p_skip=float(rng.uniform(0.0, 0.04)),
            p_extra=float(rng.uniform(0.0, 0.04)),
            timbre=str(rng.choice(VOICE_TIMBRES, p=[0.5, 0.15, 0.1, 0.15, 0.1])),
            formant_scale=float(rng.uniform(0.88, 1.15)),
            breath_snr_db=float(rng.uniform(18.0, 32.0)),
            noise_snr_db=float(rng.uniform(25.0, 45.0)),
        )

    @classmethod
    def sample_realistic(
        cls, rng: np.random.Generator, key_shift_range=(-5, 6), tempo_range=(0.8, 1.25)
    ) -> "SingerStyle":
        """A singer whose deviations follow real singing: the ranges are fitted so that the per-take statistics of
        :mod:`~wav2tok_hf.data.singing_stats` on simulated renditions match those of MASTmelody's 719 real
        performances against their piano takes (``scripts/singer_statistics.py``, ``results/singer/``): larger
        intonation errors and drift, more wrong notes, looser timing and wider vibrato than :meth:`sample`, plus
        the octave jumps and voicing gaps of real pitch tracks. Key shift and tempo are drawn as in :meth:`sample`.

        Example:
            >>> style = SingerStyle.sample_realistic(np.random.default_rng(0))
            >>> style.octave_jumps_per_s >= 0 and style.gaps_per_s >= 0
            True
        """
        r = REALISTIC_SINGER_RANGES
        draw = {name: float(rng.uniform(*r[name])) for name in _REALISTIC_ORDER}
        return cls(
            key_shift=int(rng.integers(key_shift_range[0], key_shift_range[1] + 1)),
            tempo=float(np.exp(rng.uniform(np.log(tempo_range[0]), np.log(tempo_range[1])))),
            timbre=str(rng.choice(VOICE_TIMBRES, p=[0.5, 0.15, 0.1, 0.15, 0.1])),
            formant_scale=float(rng.uniform(0.88, 1.15)),
            breath_snr_db=float(rng.uniform(18.0, 32.0)),
            noise_snr_db=float(rng.uniform(25.0, 45.0)),
            **draw,
        )


# Uniform ranges of SingerStyle.sample_realistic, fitted by hand to MASTmelody's real performances (medians and
# quartiles of every statistic in results/singer/singer_statistics.md, from `python scripts/singer_statistics.py`).
REALISTIC_SINGER_RANGES: dict[str, tuple[float, float]] = {
    "timing_jitter": (0.12, 0.6),
    "intonation_cents": (15.0, 100.0),
    "drift_cents": (5.0, 20.0),
    "vibrato_hz": (4.5, 6.5),
    "vibrato_cents": (20.0, 100.0),
    "glide_s": (0.01, 0.10),
    "p_wrong": (0.0, 0.15),
    "p_skip": (0.0, 0.06),
    "p_extra": (0.0, 0.06),
    "octave_jumps_per_s": (0.0, 0.05),
    "gaps_per_s": (0.0, 0.3),
}
_REALISTIC_ORDER = tuple(REALISTIC_SINGER_RANGES)
SINGERS = ("default", "realistic")


def sample_singer(rng: np.random.Generator, singer: str = "default") -> SingerStyle:
    """Draw a :class:`SingerStyle`: ``"default"`` (:meth:`SingerStyle.sample`, the demo's) or ``"realistic"``
    (:meth:`SingerStyle.sample_realistic`, fitted to real singing)."""
    if singer == "default":
        return SingerStyle.sample(rng)
    if singer == "realistic":
        return SingerStyle.sample_realistic(rng)
    raise ValueError(f"unknown singer {singer!r}; accepted: {SINGERS}")


def _edit_notes(midi: np.ndarray, durations: np.ndarray, style: SingerStyle, rng: np.random.Generator):
    """Occasional wrong (±1–2 semitones), skipped (merged into the previous note) and extra (split) notes."""
    out_midi: list[float] = []
    out_dur: list[float] = []
    for pitch, duration in zip(midi, durations):
        if np.isfinite(pitch):
            if out_midi and rng.random() < style.p_skip:
                out_dur[-1] += duration
                continue
            if rng.random() < style.p_wrong:
                pitch = pitch + rng.choice([-2, -1, 1, 2])
            if duration > 0.2 and rng.random() < style.p_extra:
                out_midi += [pitch, pitch + rng.choice([-2, -1, 1, 2])]
                out_dur += [duration / 2, duration / 2]
                continue
        out_midi.append(pitch)
        out_dur.append(duration)
    return np.asarray(out_midi), np.asarray(out_dur)


@dataclass(frozen=True)
class SungContour:
    """What a simulated singer sings, per sample: MIDI pitch, amplitude, and the nominal notes (after edits, key
    shift and timing)."""

    pitch: np.ndarray
    amplitude: np.ndarray
    midi: np.ndarray
    durations_s: np.ndarray


def _windows(n: int, rate_per_s: float, length_s: tuple[float, float], sampling_rate: int, rng: np.random.Generator):
    """Boolean mask of Poisson-placed windows (``rate_per_s`` of them per second, lengths uniform in ``length_s``)."""
    mask = np.zeros(n, dtype=bool)
    for _ in range(int(rng.poisson(rate_per_s * n / sampling_rate))):
        start = int(rng.integers(0, n))
        mask[start : start + int(rng.uniform(*length_s) * sampling_rate)] = True
    return mask


def sung_contour(
    midi: np.ndarray, durations_s: np.ndarray, style: SingerStyle, rng: np.random.Generator, sampling_rate: int = 8000
) -> SungContour:
    """The pitch and amplitude contour of :func:`sing` (before timbre and noise), from the same random draws."""
    midi, durations = _edit_notes(np.asarray(midi, float), np.asarray(durations_s, float), style, rng)
    durations = durations / style.tempo * np.exp(rng.normal(0.0, style.timing_jitter, len(durations)))
    midi = midi + style.key_shift
    sung = midi + rng.normal(0.0, style.intonation_cents / 100.0, len(midi))
    track = note_track(sung, durations, sampling_rate)
    n = len(track.index)
    t = np.arange(n) / sampling_rate
    pitch = _moving_average(track.midi, max(1, int(style.glide_s * sampling_rate)))
    knots = np.arange(0.0, t[-1] + 0.5, 0.5)
    pitch += np.interp(t, knots, np.cumsum(rng.normal(0.0, style.drift_cents, len(knots)))) / 100.0
    vibrato_depth = style.vibrato_cents / 100.0 * np.clip((track.since_onset_s - 0.15) / 0.3, 0.0, 1.0)
    pitch += vibrato_depth * np.sin(2 * np.pi * style.vibrato_hz * t + rng.uniform(0, 2 * np.pi))
    attack, release = rng.uniform(0.02, 0.06), rng.uniform(0.03, 0.08)
    loudness = np.exp(rng.normal(0.0, 0.2, len(durations)))[track.index]
    amplitude = _envelope(track, attack, release) * loudness
    amplitude = _moving_average(amplitude, max(1, int(0.01 * sampling_rate)))
    if style.octave_jumps_per_s > 0:  # brief octave jumps, as in real pitch tracks (tracker or voice breaks)
        jumps = _windows(n, style.octave_jumps_per_s, (0.03, 0.25), sampling_rate, rng)
        pitch = pitch + jumps * rng.choice([-12.0, 12.0])
    if style.gaps_per_s > 0:  # voicing gaps inside notes (breaths, consonants, tracker dropouts)
        gaps = _windows(n, style.gaps_per_s, (0.03, 0.15), sampling_rate, rng)
        amplitude = amplitude * _moving_average((~gaps).astype(np.float64), max(1, int(0.01 * sampling_rate)))
    return SungContour(pitch=pitch, amplitude=amplitude, midi=midi, durations_s=durations)


def sing(
    midi: np.ndarray, durations_s: np.ndarray, style: SingerStyle, rng: np.random.Generator, sampling_rate: int = 8000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render a note list as a simulated sung/hummed query.

    Applies, in order: note edits, transposition by ``style.key_shift``, tempo change, per-note timing jitter,
    per-note intonation error, slow pitch drift, glides (portamento) between notes, vibrato that fades in after each
    onset, octave jumps and voicing gaps (when the style has them), a hum/vowel formant timbre, breath (aspiration)
    noise and a background noise floor.

    Returns:
        ``(wave, sung_midi, sung_durations_s)``: float32 audio and the nominal note list actually sung.
    """
    contour = sung_contour(midi, durations_s, style, rng, sampling_rate)
    pitch, amplitude, n = contour.pitch, contour.amplitude, len(contour.pitch)
    wave = harmonic_synth(midi_to_hz(pitch), amplitude, sampling_rate, voice_gains(style.timbre, style.formant_scale))
    level = np.sqrt(np.mean(wave**2)) + 1e-9
    breath = _bandpassed_noise(n, sampling_rate, rng) * amplitude
    breath *= level / (np.sqrt(np.mean(breath**2)) + 1e-9) * 10 ** (-style.breath_snr_db / 20)
    floor = _bandpassed_noise(n, sampling_rate, rng, 60.0, 3500.0)
    floor *= level / (np.sqrt(np.mean(floor**2)) + 1e-9) * 10 ** (-style.noise_snr_db / 20)
    wave = _normalise(wave + breath + floor, float(rng.uniform(0.3, 0.9)))
    return wave, contour.midi, contour.durations_s
