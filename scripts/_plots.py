"""Plots shared by the benchmark scripts (matplotlib, Agg backend: files only, no display)."""

from __future__ import annotations

import os
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig: Any, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _row_label(row: dict) -> str:
    return f"{row['model']} ({row['distance']})"


def plot_condition_bars(rows: list[dict], path: str, title: str, conditions=("V", "TS", "PS"),
                        chance: float | None = None, ylabel: str = "MRR") -> str:
    """Grouped bars: one group per system, one bar per query condition (vanilla / time-stretched / pitch-shifted)."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4.2))
    width = 0.8 / max(1, len(conditions))
    x = np.arange(len(rows))
    for k, condition in enumerate(conditions):
        values = [row.get(condition, np.nan) for row in rows]
        bars = ax.bar(x + (k - (len(conditions) - 1) / 2) * width, values, width, label=condition)
        for bar, value in zip(bars, values):
            if np.isfinite(value):
                ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.2f}", ha="center", va="bottom",
                        fontsize=7)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance {chance:.3f}")
    ax.set_xticks(x)
    ax.set_xticklabels([_row_label(r) for r in rows], rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)


def plot_rank_histograms(rows: list[dict], path: str, title: str, conditions=("V", "TS", "PS"),
                         max_rank: int = 20) -> str:
    """Per system, the histogram of the rank of the first correct item (ranks > ``max_rank`` pooled)."""
    n = len(rows)
    fig, axes = plt.subplots(n, 1, figsize=(7, 1.9 * n + 0.6), squeeze=False, sharex=True)
    edges = np.arange(1, max_rank + 3) - 0.5
    for ax, row in zip(axes[:, 0], rows):
        for condition in conditions:
            ranks = np.asarray(row.get("ranks", {}).get(condition, []), dtype=float)
            if ranks.size:
                ax.hist(np.minimum(np.floor(ranks), max_rank + 1), bins=edges, histtype="step", linewidth=1.4,
                        label=f"{condition} (MRR {row.get(condition, float('nan')):.2f})")
        ax.set_title(_row_label(row), fontsize=8)
        ax.set_ylabel("queries", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel(f"rank of the first correct item ({max_rank + 1} = worse than {max_rank})")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_tokens_over_spectrogram(wave: np.ndarray, sampling_rate: int, tokens: list[int], durations: list[float],
                                 path: str, title: str, n_fft: int = 512, hop_length: int = 128,
                                 n_mels: int = 64) -> str:
    """Log-mel spectrogram of one clip with its wav2tok tokens: a line at every token boundary, the id on top."""
    import librosa

    n_fft = int(min(n_fft, max(64, 2 ** int(np.floor(np.log2(max(len(wave), 64)))))))
    mel = librosa.feature.melspectrogram(y=np.asarray(wave, dtype=np.float32), sr=sampling_rate, n_fft=n_fft,
                                         hop_length=hop_length, n_mels=n_mels)
    logmel = librosa.power_to_db(mel, ref=np.max)
    seconds = len(wave) / sampling_rate
    fig, ax = plt.subplots(figsize=(min(16.0, 3 + 1.6 * seconds), 4))
    ax.imshow(logmel, origin="lower", aspect="auto", extent=(0, seconds, 0, n_mels), cmap="magma")
    bounds = np.concatenate([[0.0], np.cumsum(durations)])
    fontsize = 8 if len(tokens) <= 60 else 6
    for k, token in enumerate(tokens):
        ax.axvline(bounds[k], color="cyan", linewidth=0.6, alpha=0.8)
        ax.text((bounds[k] + bounds[k + 1]) / 2, n_mels * (0.93 if k % 2 else 0.85), str(token), color="white",
                ha="center", va="center", fontsize=fontsize)
    ax.set_xlim(0, max(seconds, bounds[-1]))
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel band")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_std_sweeps(results: list[dict], path: str, title: str) -> str:
    """Validation F1 against the detection threshold (normalised cost) per system; the chosen threshold marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for result in results:
        sweep = result.get("validation_sweep")
        if not sweep:
            continue
        line, = ax.plot(sweep["thresholds"], sweep["f1"], label=f"{result['model']} ({result['distance']})")
        ax.axvline(result["threshold"], color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xlabel("threshold on normalised cost (detections with cost <= threshold kept)")
    ax.set_ylabel("validation F1")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)
