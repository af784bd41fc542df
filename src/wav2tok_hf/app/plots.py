"""The "see the tokens" picture: a pitch contour (melody models) or a log-mel spectrogram (other front ends) with
the clip's token segments drawn over it, coloured by token id (the colours of the token chips in the page)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..pitch import pitch_contour
from .alignment import token_colour


def token_spans(durations_s: Sequence[float]) -> np.ndarray:
    """``(n, 2)`` start / end seconds of consecutive tokens from their durations.

    Example:
        >>> token_spans([0.5, 0.25]).tolist()
        [[0.0, 0.5], [0.5, 0.75]]
    """
    ends = np.cumsum(np.asarray(durations_s, dtype=np.float64))
    return np.stack([ends - np.asarray(durations_s, dtype=np.float64), ends], axis=1) if len(ends) else np.zeros((0, 2))


def token_figure(wave: np.ndarray, sampling_rate: int, tokens: Sequence[int], durations_s: Sequence[float],
                 melody: bool, title: str = "") -> Figure:
    """Pitch contour (``melody``) or log-mel spectrogram of ``wave``, token spans shaded over it and a strip of
    token ids below, each token in its own colour."""
    import librosa

    figure = Figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    top, strip = figure.subplots(2, 1, sharex=True, height_ratios=[5, 1])
    seconds = len(wave) / sampling_rate
    spans = token_spans(durations_s)
    if melody:
        times, midi = pitch_contour(wave, sampling_rate)
        for (start, end), token in zip(spans, tokens):
            top.axvspan(start, end, color=token_colour(token), alpha=0.28, linewidth=0)
        top.plot(times, midi, color="#222", linewidth=1.6)
        top.set_ylabel("pitch (MIDI note)")
        if np.isfinite(midi).any():
            low, high = np.nanmin(midi), np.nanmax(midi)
            top.set_ylim(low - 2, high + 2)
    else:
        hop = max(1, sampling_rate // 100)
        mel = librosa.feature.melspectrogram(y=wave, sr=sampling_rate, n_fft=min(2048, 4 * hop * 2), hop_length=hop, n_mels=64)
        top.imshow(librosa.power_to_db(mel, ref=np.max), origin="lower", aspect="auto", cmap="magma",
                   extent=(0, seconds, 0, mel.shape[0]))
        for (start, end), token in zip(spans, tokens):
            top.axvspan(start, end, ymin=0.94, ymax=1.0, color=token_colour(token), linewidth=0)
            top.axvline(start, color="white", alpha=0.35, linewidth=0.6)
        top.set_ylabel("mel band")
    for (start, end), token in zip(spans, tokens):
        strip.axvspan(start, end, facecolor=token_colour(token), linewidth=0.5, edgecolor="white")
        if (end - start) / max(seconds, 1e-9) > 0.012:
            strip.text((start + end) / 2, 0.5, str(int(token)), ha="center", va="center", fontsize=7)
    strip.set_yticks([])
    strip.set_ylabel("token", rotation=0, ha="right", va="center")
    strip.set_xlabel("time (s)")
    strip.set_xlim(0, seconds)
    top.set_title(title or f"{len(tokens)} tokens in {seconds:.1f} s", fontsize=10)
    return figure


__all__ = ["pitch_contour", "token_figure", "token_spans"]
