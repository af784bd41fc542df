"""Tokenisation speed: real-time factor and milliseconds per query clip, batched (``scripts/bench_encode.py``).

Times a randomly initialised default-config ``Wav2TokModel`` (weights do not change the speed) on synthetic
hum-like clips (:func:`hum`), plus the retrieval baselines for the paper's "infer" column. Baselines that cannot be
created here (e.g. a Hub checkpoint without network) are reported as skipped, with the reason.

Example:
    >>> import numpy as np
    >>> clip = hum(0.5, 8000, np.random.default_rng(0))
    >>> clip.shape, clip.dtype
    ((4000,), dtype('float32'))
"""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from .timing import median_seconds

LOCAL_BASELINES = ("logmel-dtw", "vq-logmel-ed", "pitch-notes-ed", "relative-note-dtw", "pitch-contour-dtw")
HUB_BASELINES = ("wav2vec2-o", "wav2vec2-multi")


def hum(seconds: float, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A hum-like clip: a random stepwise melody of harmonic tones with a little noise."""
    notes = rng.integers(50, 75, int(seconds / 0.4) + 1)
    f0 = 440.0 * 2 ** ((np.repeat(notes, int(0.4 * sampling_rate))[: int(seconds * sampling_rate)] - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sampling_rate
    wave = sum(0.6 ** h * np.sin((h + 1) * phase) for h in range(4))
    return (0.3 * wave + 0.01 * rng.standard_normal(len(wave))).astype(np.float32)


def encode_speed(num_clips: int = 32, clip_s: float = 8.0, batch_size: int = 16, repeats: int = 3,
                 baselines: bool = True, hub: bool = True) -> tuple[dict[str, Any], str]:
    """Median time to encode ``num_clips`` clips of ``clip_s`` seconds, per encoder.

    Args:
        batch_size: clips per forward pass of the wav2tok model.
        repeats: timed runs per encoder (after one warm-up run); the median is reported.
        baselines: also time :data:`LOCAL_BASELINES` (fit on the first 8 clips where they learn) and, with ``hub``,
            :data:`HUB_BASELINES`.

    Returns ``(report, markdown)``: ``{"cpu_count", "platform", "torch", "rows": [{"encoder", "rtf",
    "ms_per_query", "x_real_time"}], "skipped": {name: reason}}`` and the table. Torch runs on the threads the
    caller set.
    """
    import torch

    from .. import Wav2TokConfig, Wav2TokModel
    from ..retrieval import BaselineUnavailable, create_baseline

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Wav2TokModel(Wav2TokConfig()).eval()
    sr = model.config.sampling_rate
    clips = [hum(clip_s, sr, rng) for _ in range(num_clips)]
    audio_s = num_clips * clip_s
    rows = []

    def add_row(name: str, fn: Any) -> None:
        seconds = median_seconds(fn, repeats)
        rows.append({"encoder": name, "rtf": seconds / audio_s, "ms_per_query": 1e3 * seconds / num_clips,
                     "x_real_time": audio_s / seconds})

    add_row("wav2tok encode (tokens)", lambda: model.encode(clips, sampling_rate=sr, batch_size=batch_size))
    add_row("wav2tok embed (frames)", lambda: model.embed(clips, sampling_rate=sr, batch_size=batch_size))
    skipped = {}
    for name in (LOCAL_BASELINES + (HUB_BASELINES if hub else ())) if baselines else ():
        try:
            baseline = create_baseline(name)
        except BaselineUnavailable as error:
            skipped[name] = str(error)
            continue
        baseline.fit(clips[: min(8, len(clips))], sampling_rate=sr)
        add_row(name, lambda b=baseline: b.encode(clips, sampling_rate=sr))
    report = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__, "rows": rows,
              "skipped": skipped}
    title = (f"Encoding speed: {num_clips} clips of {clip_s:g} s at {sr} Hz, batch {batch_size}, "
             f"{torch.get_num_threads()} torch threads, median of {repeats}; default-config Wav2TokModel "
             f"({sum(p.numel() for p in model.parameters()):,} parameters, random weights)")
    lines = ["", title, "", f"| encoder | ms per {clip_s:g} s query | real-time factor | x real time |",
             "|---|---:|---:|---:|"]
    lines += [f"| {r['encoder']} | {r['ms_per_query']:.1f} | {r['rtf']:.4f} | {r['x_real_time']:.0f} |" for r in rows]
    lines += [f"| {name} | skipped: {reason} | | |" for name, reason in skipped.items()]
    return report, "\n".join(lines)
