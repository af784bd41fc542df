"""Tokenisation speed: real-time factor and milliseconds per query clip, batched, on this machine's CPU cores.

Times a randomly initialised default-config ``Wav2TokModel`` (weights do not change the speed) on
``--num-clips`` clips of ``--clip-s`` seconds (synthetic hum-like audio), plus the retrieval baselines for the
paper's "infer" column. Hub baselines that cannot be loaded here are reported as ``skipped: <reason>``
(set ``HF_HUB_OFFLINE=1`` to fail fast without network).

Usage:
    python scripts/bench_encode.py --output bench_encode.json
    python scripts/bench_encode.py --num-clips 8 --no-baselines   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from wav2tok_hf import Wav2TokConfig, Wav2TokModel  # noqa: E402
from wav2tok_hf.retrieval import BaselineUnavailable, create_baseline  # noqa: E402


def hum(seconds: float, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A hum-like clip: a random stepwise melody of harmonic tones with a little noise."""
    notes = rng.integers(50, 75, int(seconds / 0.4) + 1)
    f0 = 440.0 * 2 ** ((np.repeat(notes, int(0.4 * sampling_rate))[: int(seconds * sampling_rate)] - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sampling_rate
    wave = sum(0.6 ** h * np.sin((h + 1) * phase) for h in range(4))
    return (0.3 * wave + 0.01 * rng.standard_normal(len(wave))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-clips", type=int, default=32)
    parser.add_argument("--clip-s", type=float, default=8.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-baselines", action="store_true", help="time the wav2tok model only")
    parser.add_argument("--no-hub", action="store_true", help="do not try the Hub CTC baselines")
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = Wav2TokModel(Wav2TokConfig()).eval()
    sr = model.config.sampling_rate
    clips = [hum(args.clip_s, sr, rng) for _ in range(args.num_clips)]
    audio_s = args.num_clips * args.clip_s

    rows = []

    def add_row(name: str, fn) -> None:
        seconds = _common.median_seconds(fn, args.repeats)
        rows.append({"encoder": name, "rtf": seconds / audio_s, "ms_per_query": 1e3 * seconds / args.num_clips,
                     "x_real_time": audio_s / seconds})

    add_row("wav2tok encode (tokens)",
            lambda: model.encode(clips, sampling_rate=sr, batch_size=args.batch_size))
    add_row("wav2tok embed (frames)",
            lambda: model.embed(clips, sampling_rate=sr, batch_size=args.batch_size))
    skipped = {}
    if not args.no_baselines:
        baselines = ["logmel-dtw", "vq-logmel-ed", "pitch-notes-ed", "relative-note-dtw", "pitch-contour-dtw"]
        if not args.no_hub:
            baselines += ["wav2vec2-o", "wav2vec2-multi"]
        for name in baselines:
            try:
                baseline = create_baseline(name)
            except BaselineUnavailable as error:
                skipped[name] = str(error)
                continue
            baseline.fit(clips[: min(8, len(clips))], sampling_rate=sr)
            add_row(name, lambda b=baseline: b.encode(clips, sampling_rate=sr))

    print(f"\nEncoding speed: {args.num_clips} clips of {args.clip_s:g} s at {sr} Hz, batch {args.batch_size}, "
          f"{args.threads} torch threads, median of {args.repeats}; default-config Wav2TokModel "
          f"({sum(p.numel() for p in model.parameters()):,} parameters, random weights)\n")
    print(f"| encoder | ms per {args.clip_s:g} s query | real-time factor | x real time |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['encoder']} | {r['ms_per_query']:.1f} | {r['rtf']:.4f} | {r['x_real_time']:.0f} |")
    for name, reason in skipped.items():
        print(f"| {name} | skipped: {reason} | | |")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                       "torch": torch.__version__, "rows": rows, "skipped": skipped}, f, indent=2)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
