"""Singing statistics (real vs simulated singer) and the realistic singer option of the synthesiser."""

from __future__ import annotations

import numpy as np
import pytest

from wav2tok_hf.data import prepare_essen
from wav2tok_hf.data.singing_stats import ReferenceNotes, measure_singing, notes_from_track, to_midi
from wav2tok_hf.data.synth import REALISTIC_SINGER_RANGES, SingerStyle, sample_singer, sing, sung_contour

MELODY = np.array([60.0, 62.0, 64.0, 65.0, 67.0, 65.0, 64.0, 62.0, 60.0, 64.0])
DURATIONS = np.full(len(MELODY), 0.4)


def _notes() -> ReferenceNotes:
    onsets = np.arange(len(MELODY)) * 0.4
    return ReferenceNotes(MELODY, onsets, onsets + 0.4)


def test_measures_known_offset_tempo_and_intonation():
    notes = _notes()
    rng = np.random.default_rng(0)
    errors = rng.normal(0.0, 0.3, len(MELODY))  # 30 cents per note
    t = np.arange(0.0, 5.0, 0.0029)  # 0.5 s per note: 1.25x slower than the 0.4 s reference notes
    note = np.minimum((t / 0.5).astype(int), 9)
    sung = MELODY[note] + 5.0 + errors[note]  # and 5 semitones higher
    d = measure_singing(t, sung, notes)
    assert abs(d.key_offset - (5 + np.median(errors))) < 0.2
    assert abs(d.tempo - 0.8) < 0.05
    assert 10.0 < d.intonation_cents < 60.0
    assert d.octave_jump_fraction == 0.0 and d.unvoiced_fraction == 0.0


def test_octave_jumps_and_gaps_are_counted():
    notes = _notes()
    t = np.arange(0.0, 4.0, 0.01)
    sung = MELODY[np.minimum((t / 0.4).astype(int), 9)].astype(float)
    sung[100:120] += 12.0  # 0.2 s an octave up
    sung[250:260] = np.nan  # a 0.1 s voicing gap
    d = measure_singing(t, sung, notes)
    assert abs(round(d.key_offset)) == 0
    assert 0.03 < d.octave_jump_fraction < 0.08
    assert 0.0 < d.unvoiced_fraction < 0.05 and d.gaps_per_s > 0


def test_notes_from_a_piano_like_track_and_errors():
    t = np.arange(0.0, 1.2, 0.0029)
    f0 = np.where(t < 0.6, 261.63, 293.66)
    f0[:10] = 0.0
    notes = notes_from_track(t, to_midi(f0))
    assert notes.midi.tolist() == [60.0, 62.0]
    assert abs(notes.onsets_s[1] - 0.6) < 0.02
    with pytest.raises(ValueError, match="two steady notes"):
        notes_from_track(t, np.full(len(t), 60.0))
    with pytest.raises(ValueError, match="voiced frames"):
        measure_singing(t, np.full(len(t), np.nan), notes)


def test_realistic_singer_is_a_new_option_and_default_is_unchanged():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert sample_singer(rng_a, "default") == SingerStyle.sample(rng_b)
    style = sample_singer(np.random.default_rng(3), "realistic")
    for name, (low, high) in REALISTIC_SINGER_RANGES.items():
        assert low <= getattr(style, name) <= high
    with pytest.raises(ValueError, match="realistic"):
        sample_singer(np.random.default_rng(0), "robot")
    # the default singer never draws octave jumps or gaps; sing() returns the contour's notes
    default = SingerStyle.sample(np.random.default_rng(1))
    assert default.octave_jumps_per_s == 0.0 and default.gaps_per_s == 0.0
    contour = sung_contour(MELODY, DURATIONS, default, np.random.default_rng(5))
    wave, midi, durations = sing(MELODY, DURATIONS, default, np.random.default_rng(5))
    np.testing.assert_array_equal(midi, contour.midi)
    assert len(wave) == len(contour.pitch)


def test_realistic_singer_deviates_more_than_default():
    """Measured the same way, the realistic singer's intonation and timing errors are larger (as real singers')."""
    stats = {"default": [], "realistic": []}
    rng = np.random.default_rng(0)
    for _ in range(12):
        for singer in stats:
            contour = sung_contour(MELODY, DURATIONS, sample_singer(rng, singer), rng)
            voiced = contour.amplitude[::80] > 0.05 * contour.amplitude.max()
            track = np.where(voiced, contour.pitch[::80], np.nan)
            stats[singer].append(measure_singing(np.arange(len(track)) * 0.01, track, _notes()))
    median = {s: {k: np.median([getattr(d, k) for d in v]) for k in ("intonation_cents", "timing_jitter")}
              for s, v in stats.items()}
    assert median["realistic"]["intonation_cents"] > 1.3 * median["default"]["intonation_cents"]
    assert median["realistic"]["timing_jitter"] > 1.3 * median["default"]["timing_jitter"]


def test_essen_realistic_singer_option():
    data = prepare_essen(num_songs=(1, 0, 0), queries_per_song=1, seed=0, singer="realistic")
    default = prepare_essen(num_songs=(1, 0, 0), queries_per_song=1, seed=0)
    assert data["train"]["kind"] == default["train"]["kind"]
    # same reference, different (realistic) query rendition
    assert data["train"][0]["audio"]["array"].tolist() == default["train"][0]["audio"]["array"].tolist()
    assert data["train"][1]["note_durations_s"] != default["train"][1]["note_durations_s"]
    with pytest.raises(ValueError, match="singer"):
        prepare_essen(num_songs=(1, 0, 0), queries_per_song=1, singer="robot")
