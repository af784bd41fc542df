"""Spoken term detection searches (retrieval/std.py): windows, timing, context-dependent tokens."""

import numpy as np
import pytest

from wav2tok_hf.retrieval.encoders import Encoder
from wav2tok_hf.retrieval.std import STDSet, evaluate_std, std_detections, window_spans

RATE = 100  # one sample per 10 ms: a "wave" here is a run of word ids, 50 samples (0.5 s) per word


def words(*ids: int) -> np.ndarray:
    return np.repeat(np.asarray(ids, np.float32), 50)


def fake_encoder(context_shift: bool) -> tuple[Encoder, Encoder]:
    """Tokens = the word ids of a wave (runs collapsed). With ``context_shift``, a clip longer than 1 s gets every id
    moved by 10: like a BiLSTM whose tokens of a word depend on what surrounds it."""
    def tokens(wave: np.ndarray) -> tuple[list[int], list[float]]:
        values = np.round(wave).astype(int)
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        shift = 10 if context_shift and len(wave) > RATE else 0
        runs = np.diff(np.r_[starts, len(values)])
        return [int(values[s]) + shift for s in starts], (runs / RATE).tolist()

    def encode(waves, sr):
        return [tokens(w)[0] for w in waves]

    def with_durations(waves, sr):
        out = [tokens(w) for w in waves]
        return [o[0] for o in out], [o[1] for o in out]

    plain = Encoder("fake", encode, "subsequence_levenshtein", 32, encode_with_durations=with_durations)
    return plain, Encoder("fake", encode, "windowed_levenshtein", 32)


def std_set() -> STDSet:
    return STDSet([words(1, 2, 3), words(4, 5, 6)], ["u0", "u1"], {"two": [("u0", 0.5, 1.0)], "five": [("u1", 0.5, 1.0)]},
                  [words(2), words(5)], ["two", "five"], ["q2", "q5"], sampling_rate=RATE)


@pytest.mark.parametrize("duration, lengths, hop", [(1.5, (0.5, 0.75, 1.0), 0.05), (0.3, (0.5, 1.0), 0.1),
                                                    (2.03, (0.5,), 0.2)])
def test_window_spans_cover_the_recording_at_every_length(duration, lengths, hop):
    spans = window_spans(duration, lengths, hop)
    assert len(spans) == len(set(spans))
    for length in lengths:
        mine = sorted(s for s in spans if abs((s[1] - s[0]) - min(length, duration)) < 1e-6)
        assert mine[0][0] == 0 and mine[-1][1] == pytest.approx(duration)  # from the start to the end
        assert all(b[0] - a[0] <= hop + 1e-6 for a, b in zip(mine, mine[1:]))  # no gap wider than the hop
    assert all(0 <= s < e <= duration + 1e-9 for s, e in spans)


@pytest.mark.parametrize("args", [(0.0, (0.5,), 0.1), (1.0, (), 0.1), (1.0, (0.5, -1.0), 0.1), (1.0, (0.5,), 0.0)])
def test_window_spans_refuse_bad_arguments(args):
    with pytest.raises(ValueError, match="positive"):
        window_spans(*args)


def test_windowed_search_finds_and_times_the_word():
    _, windowed = fake_encoder(context_shift=False)
    found = std_detections(windowed, std_set(), window_lengths_s=(0.5, 1.0), window_hop_s=0.05)["detections"]
    best = {qid: min(dets, key=lambda d: d[3]) for qid, dets in found.items()}
    assert best["q2"] == ("u0", 0.5, 1.0, 0.0) and best["q5"] == ("u1", 0.5, 1.0, 0.0)
    assert sorted(d[0] for d in found["q2"]) == ["u0", "u1"]  # one detection per utterance


def test_windows_find_words_whose_tokens_depend_on_their_context():
    """Tokens that change with the surrounding words defeat a search inside the whole utterance's tokens; windows
    about a word long are tokenised as the query is and still find it (the failure of docs/RESULTS.md 8a)."""
    subsequence, windowed = fake_encoder(context_shift=True)
    std = std_set()
    inside = std_detections(subsequence, std)["detections"]
    assert all(d[3] > 0 for dets in inside.values() for d in dets)  # no exact match anywhere
    result = evaluate_std(windowed, std, std, window_lengths_s=(0.5, 1.0), window_hop_s=0.05)
    assert result["map"] == 1.0 and result["validation_map"] == 1.0 and result["f1"] == 1.0
    assert evaluate_std(subsequence, std, std)["map"] < 1.0


def test_windowed_search_needs_a_token_vocabulary():
    frames = Encoder("frames", lambda waves, sr: [w[:, None] for w in waves], "windowed_levenshtein", frame_dim=1)
    with pytest.raises(ValueError, match="no token vocabulary"):
        std_detections(frames, std_set())
