"""How a sung pitch track deviates from the notes it sings: intonation, drift, tempo, timing, vibrato, glides,
octave jumps, wrong notes and voicing gaps.

Used to fit the simulated singer (``SingerStyle.sample_realistic``) to real singing (MASTmelody's performances
against their piano reference takes) and to compare the two (``scripts/singer_statistics.py``). The sung track is
aligned to the reference notes by DTW over the pitch-class distance (octave jumps do not break the alignment); all
deviations are measured along that path. Hand-written because no maintained library measures these per-note
deviations of a pitch track; the DTW itself is librosa's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from ..pitch import to_midi

HOP_S = 0.01
_MIN_NOTE_S = 0.06


@dataclass(frozen=True)
class ReferenceNotes:
    """A note list: MIDI pitch, onset and offset in seconds (rests are gaps between notes)."""

    midi: np.ndarray
    onsets_s: np.ndarray
    offsets_s: np.ndarray


@dataclass(frozen=True)
class SingingDeviation:
    """Deviations of one sung take from its reference notes (see :func:`measure_singing`)."""

    key_offset: float  # semitones, sung minus reference (median over notes)
    intonation_cents: float  # robust std of per-note pitch error after removing the key offset and the slow drift
    drift_cents: float  # std of the slow (3-note moving average) component of the per-note error
    wrong_note_fraction: float  # notes more than 0.6 semitone off after offset and drift
    tempo: float  # reference duration / sung duration (> 1 = faster)
    timing_jitter: float  # robust std of log(sung / expected note duration), notes >= 0.1 s
    vibrato_cents: float  # median over notes >= 0.35 s of the detrended pitch std (cents)
    glide_s: float  # median 20-80 % transition time between notes a semitone or more apart
    octave_jump_fraction: float  # voiced frames more than 6 semitones from the aligned reference (+ key offset)
    unvoiced_fraction: float  # unvoiced frames between the first and last voiced one
    gaps_per_s: float  # unvoiced gaps (>= 30 ms) per second of singing

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def resample_track(times_s: np.ndarray, midi: np.ndarray, hop_s: float = HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-frame resampling of a MIDI track (``nan`` = unvoiced) to a regular ``hop_s`` grid."""
    grid = np.arange(times_s[0], times_s[-1] + 1e-9, hop_s)
    index = np.clip(np.searchsorted(times_s, grid), 0, len(times_s) - 1)
    return grid, np.asarray(midi, dtype=np.float64)[index]


def notes_from_track(times_s: np.ndarray, midi: np.ndarray, min_note_s: float = _MIN_NOTE_S) -> ReferenceNotes:
    """Segment a steady-pitched (e.g. piano) MIDI track into notes: runs of one rounded semitone of at least
    ``min_note_s``; shorter runs (attacks, tracker blips) are dropped.

    Example:
        >>> t = np.arange(100) * 0.01
        >>> notes_from_track(t, np.r_[np.full(50, 60.0), np.full(50, 62.1)]).midi.tolist()
        [60.0, 62.0]
    """
    grid, track = resample_track(np.asarray(times_s, float), midi)
    rounded = np.where(np.isfinite(track), np.round(track), -1.0)
    starts = np.flatnonzero(np.r_[True, rounded[1:] != rounded[:-1]])
    ends = np.r_[starts[1:], len(rounded)]
    keep = [(s, e) for s, e in zip(starts, ends) if rounded[s] >= 0 and (e - s) * HOP_S >= min_note_s]
    if len(keep) < 2:
        raise ValueError("reference track has fewer than two steady notes")
    return ReferenceNotes(
        midi=np.array([rounded[s] for s, _ in keep]),
        onsets_s=np.array([grid[s] for s, _ in keep]),
        offsets_s=np.array([grid[e - 1] + HOP_S for _, e in keep]),
    )


def _wrap(semitones: np.ndarray) -> np.ndarray:
    return (semitones + 6.0) % 12.0 - 6.0


def _robust_std(x: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the std of the bulk, not of the outliers."""
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def measure_singing(times_s: np.ndarray, midi: np.ndarray, notes: ReferenceNotes) -> SingingDeviation:
    """Measure how a sung MIDI track (``nan`` = unvoiced) deviates from reference ``notes``.

    Example:
        >>> notes = ReferenceNotes(np.array([60.0, 64.0, 62.0]), np.array([0.0, 0.5, 1.0]), np.array([0.5, 1.0, 1.5]))
        >>> t = np.arange(0, 1.5, 0.01)
        >>> sung = np.where(t < 0.5, 60.0, np.where(t < 1.0, 64.0, 62.0)) - 12.0  # an octave lower, in tune
        >>> d = measure_singing(t, sung, notes)
        >>> round(d.key_offset), round(d.intonation_cents), round(d.tempo, 1)
        (-12, 0, 1.0)
    """
    grid, sung = _voiced_span(times_s, midi)
    is_voiced = np.isfinite(sung)
    v_times, v_pitch = grid[is_voiced], sung[is_voiced]
    note_of, ref_midi = _reference_frames(notes)
    ref_idx, sung_idx = _align(v_pitch, ref_midi)
    sung_notes = _sung_notes(notes, note_of[ref_idx], sung_idx, v_times, v_pitch, v_pitch[sung_idx] - ref_midi[ref_idx])
    key, slow, residual = _key_drift_residual(sung_notes.errors)
    tempo = float((notes.offsets_s[-1] - notes.onsets_s[0]) / max(v_times[-1] - v_times[0], HOP_S))
    jitter = _timing_log_ratios(sung_notes, tempo)
    vibrato = _vibrato_cents(sung_notes.tracks)
    glides = _glide_times(notes, sung_notes.onsets_s, v_times, v_pitch, key)
    deviation = v_pitch[sung_idx] - key - ref_midi[ref_idx]
    return SingingDeviation(
        key_offset=key,
        intonation_cents=float(_robust_std(residual) * 100.0),
        drift_cents=float(np.std(slow) * 100.0),
        wrong_note_fraction=float(np.mean(np.abs(residual) > 0.6)),
        tempo=tempo,
        timing_jitter=float(_robust_std(jitter)) if len(jitter) else 0.0,
        vibrato_cents=float(np.median(vibrato)) if vibrato else 0.0,
        glide_s=float(np.median(glides)) if glides else 0.0,
        octave_jump_fraction=float(np.mean(np.abs(deviation) > 6.0)),
        unvoiced_fraction=float(1.0 - is_voiced.mean()),
        gaps_per_s=_gaps_per_s(grid, is_voiced),
    )


class _SungNotes(NamedTuple):
    """Where each reference note (that the alignment reaches) was sung: one entry per such note."""

    errors: np.ndarray  # median sung-minus-reference pitch over the steady part (the last 70 % of its frames)
    onsets_s: np.ndarray
    offsets_s: np.ndarray
    ref_durations_s: np.ndarray
    tracks: list[tuple[np.ndarray, np.ndarray]]  # (times, pitch) of the voiced frames aligned to the note


def _voiced_span(times_s: np.ndarray, midi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sung track on the ``HOP_S`` grid, from its first to its last voiced frame (at least 10 voiced frames)."""
    grid, sung = resample_track(np.asarray(times_s, float), midi)
    voiced = np.flatnonzero(np.isfinite(sung))
    if len(voiced) < 10:
        raise ValueError("sung track has fewer than 10 voiced frames")
    return grid[voiced[0] : voiced[-1] + 1], sung[voiced[0] : voiced[-1] + 1]


def _reference_frames(notes: ReferenceNotes) -> tuple[np.ndarray, np.ndarray]:
    """The reference notes on the ``HOP_S`` grid (rests dropped): the note index and MIDI pitch of each frame."""
    ref_grid = np.arange(notes.onsets_s[0], notes.offsets_s[-1], HOP_S)
    note_of = np.searchsorted(notes.onsets_s, ref_grid, side="right") - 1
    note_of = note_of[ref_grid < notes.offsets_s[note_of]]
    return note_of, notes.midi[note_of]


def _align(v_pitch: np.ndarray, ref_midi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DTW path (reference frame, voiced sung frame), start to end, over the pitch-class distance after a rough key."""
    import librosa

    key = float(np.median(v_pitch) - np.median(ref_midi))
    cost = np.abs(_wrap(v_pitch[None, :] - key - ref_midi[:, None]))
    _, path = librosa.sequence.dtw(C=cost, backtrack=True)
    path = path[::-1]
    return path[:, 0], path[:, 1]


def _sung_notes(
    notes: ReferenceNotes, path_note: np.ndarray, sung_idx: np.ndarray, v_times: np.ndarray, v_pitch: np.ndarray,
    raw: np.ndarray,
) -> _SungNotes:
    """Per reference note, the sung frames the path aligns to it (``path_note``: the note of each path step,
    ``raw``: the sung-minus-reference pitch of each path step)."""
    errors, sung_on, sung_off, ref_dur = [], [], [], []
    tracks = []
    for n in range(len(notes.midi)):
        on_path = np.flatnonzero(path_note == n)
        if len(on_path) == 0:
            continue
        frames = np.unique(sung_idx[on_path])
        steady = frames[int(0.3 * len(frames)) :] if len(frames) >= 4 else frames
        errors.append(np.median(raw[on_path][np.isin(sung_idx[on_path], steady)]))
        sung_on.append(v_times[frames[0]])
        sung_off.append(v_times[frames[-1]] + HOP_S)
        ref_dur.append(notes.offsets_s[n] - notes.onsets_s[n])
        tracks.append((v_times[frames], v_pitch[frames]))
    return _SungNotes(*map(np.asarray, (errors, sung_on, sung_off, ref_dur)), tracks)


def _key_drift_residual(errors: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The key offset (the median per-note error; octave placement: its nearest octave), the slow drift (3-note
    moving average of the octave-folded error) and the per-note residual after both."""
    key = float(np.median(errors))
    folded = key + _wrap(errors - key)
    slow = np.convolve(np.pad(folded - key, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return key, slow, folded - key - slow


def _timing_log_ratios(sung_notes: _SungNotes, tempo: float) -> np.ndarray:
    """log(sung / expected note duration) at ``tempo``, for the reference notes of at least 0.1 s."""
    sung_on, ref_dur = sung_notes.onsets_s, sung_notes.ref_durations_s
    sung_dur = np.maximum(np.r_[sung_on[1:], sung_notes.offsets_s[-1]] - sung_on, HOP_S)
    return np.log(sung_dur / (ref_dur / tempo))[ref_dur >= 0.1]


def _vibrato_cents(tracks: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """The std (cents) of the linearly detrended pitch of each note sung for at least 0.35 s."""
    vibrato = []
    for t, p in tracks:
        if len(t) >= int(0.35 / HOP_S):
            fit = np.polyval(np.polyfit(t, p, 1), t)
            vibrato.append(np.std(p - fit) * 100.0)
    return vibrato


def _glide_times(
    notes: ReferenceNotes, sung_on: np.ndarray, v_times: np.ndarray, v_pitch: np.ndarray, key: float
) -> list[float]:
    """The 20-80 % transition time into each note a semitone or more from the previous one (within 0.25 s of its
    sung onset, octave-folded)."""
    glides = []
    for n in range(1, len(notes.midi)):
        interval = notes.midi[n] - notes.midi[n - 1]
        if abs(interval) < 1 or n >= len(sung_on):
            continue
        window = (v_times >= sung_on[n] - 0.25) & (v_times <= sung_on[n] + 0.25)
        if window.sum() < 5:
            continue
        moved = v_pitch[window] - key - notes.midi[n - 1]
        progress = (moved - 12.0 * np.round((moved - interval / 2) / 12.0)) / interval
        t = v_times[window]
        low, high = np.flatnonzero(progress >= 0.2), np.flatnonzero(progress >= 0.8)
        if len(low) and len(high) and high[0] >= low[0]:
            glides.append(t[high[0]] - t[low[0]])
    return glides


def _gaps_per_s(grid: np.ndarray, is_voiced: np.ndarray) -> float:
    """Unvoiced gaps of at least 3 frames (30 ms) per second of the sung span."""
    unvoiced_runs = np.diff(np.flatnonzero(np.diff(np.r_[1, is_voiced.astype(int), 1]) != 0))[0::2]
    return float(np.sum(unvoiced_runs >= 3) / max(grid[-1] - grid[0], HOP_S))


__all__ = ["ReferenceNotes", "SingingDeviation", "measure_singing", "notes_from_track", "resample_track", "to_midi"]
