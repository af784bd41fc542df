#!/usr/bin/env python
"""Real vs simulated singing: how MASTmelody's real performances deviate from their piano reference takes, and how
the simulated singers (``default`` = the demo's, ``realistic`` = fitted to the real statistics) deviate from the
Essen notes they sing, measured the same way (``wav2tok_hf.data.singing_stats``).

Outputs in ``--output-dir``: ``singer_statistics.json`` (per-take values and quartiles per source),
``singer_statistics.md`` (median [25 %, 75 %] per statistic and source) and ``singer_statistics.png`` (histograms,
real vs simulated).

Usage:
    python scripts/singer_statistics.py --source ../shared/data/mastmelody --output-dir results/singer
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

SINGERS = ("default", "realistic")


def real_statistics(source: str, max_performances: int | None, seed: int) -> list[dict]:
    from wav2tok_hf.data.mastmelody import read_f0
    from wav2tok_hf.data.singing_stats import measure_singing, notes_from_track, to_midi

    rows = []
    with tempfile.TemporaryDirectory(prefix="singer-stats-") as scratch:
        folder = Path(source) / "f0data"
        if not folder.is_dir():
            with tarfile.open(Path(source) / "f0data.tar.xz") as archive:
                archive.extractall(scratch, filter="data")
            folder = Path(scratch) / "f0data"
        performances = sorted(folder.glob("*_per*.f0s.txt"))
        if max_performances is not None:
            chosen = np.random.default_rng(seed).permutation(len(performances))[:max_performances]
            performances = [performances[i] for i in sorted(chosen)]
        notes_cache: dict[Path, object] = {}
        for path in performances:
            match = re.match(r"(?P<melody>\d+_mel\d+)_per(?P<take>\d+)_", path.name)
            reference = folder / f"{match['melody']}_ref{match['take']}.f0s.txt"
            if not reference.is_file():  # the take's own piano reference when it exists, else the melody's first
                reference = sorted(folder.glob(f"{match['melody']}_ref*.f0s.txt"))[0]
            try:
                if reference not in notes_cache:
                    times, f0 = read_f0(reference)
                    notes_cache[reference] = notes_from_track(times, to_midi(f0))
                times, f0 = read_f0(path)
                rows.append(measure_singing(times, to_midi(f0), notes_cache[reference]).as_dict())
            except ValueError as error:
                print(f"skipped {path.name}: {error}", file=sys.stderr)
    return rows


def simulated_statistics(num_songs: int, seed: int, excerpt_s: float) -> dict[str, list[dict]]:
    from wav2tok_hf.data.essen import _excerpt, list_essen_tunes, parse_melody
    from wav2tok_hf.data.singing_stats import ReferenceNotes, measure_singing
    from wav2tok_hf.data.synth import sample_singer, sung_contour

    rng = np.random.default_rng(seed)
    tunes = list_essen_tunes()
    rows: dict[str, list[dict]] = {singer: [] for singer in SINGERS}
    sampling_rate, hop = 8000, 80
    for position in rng.permutation(len(tunes)):
        if len(rows[SINGERS[0]]) >= num_songs:
            break
        try:
            midi, quarters = parse_melody(tunes[position].abc)
        except Exception:  # music21 raises many unrelated types on malformed ABC
            continue
        if np.isfinite(midi).sum() < 10:
            continue
        seconds = quarters * rng.uniform(0.25, 0.4) / np.median(quarters[np.isfinite(midi)])
        midi, seconds = _excerpt(midi, seconds, 0.0, excerpt_s)
        onsets = np.concatenate([[0.0], np.cumsum(seconds)[:-1]])
        pitched = np.isfinite(midi)
        notes = ReferenceNotes(midi[pitched], onsets[pitched], (onsets + seconds)[pitched])
        for singer in SINGERS:
            style = sample_singer(rng, singer)
            contour = sung_contour(midi, seconds, style, rng, sampling_rate)
            voiced = contour.amplitude[::hop] > 0.05 * contour.amplitude.max()
            track = np.where(voiced, contour.pitch[::hop], np.nan)
            times = np.arange(len(track)) * hop / sampling_rate
            try:
                rows[singer].append(measure_singing(times, track, notes).as_dict())
            except ValueError:
                continue
    return rows


def quartiles(rows: list[dict]) -> dict[str, list[float]]:
    return {k: np.percentile([r[k] for r in rows], [25, 50, 75]).round(4).tolist() for k in rows[0]}


def plot(sources: dict[str, list[dict]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(next(iter(sources.values()))[0])
    cols = 4
    fig, axes = plt.subplots((len(keys) + cols - 1) // cols, cols, figsize=(16, 10))
    for ax, key in zip(axes.flat, keys):
        values = {name: np.array([r[key] for r in rows]) for name, rows in sources.items()}
        every = np.concatenate(list(values.values()))
        low, high = np.percentile(every, [1, 99])
        bins = np.linspace(low, high if high > low else low + 1, 30)
        for name, v in values.items():
            ax.hist(np.clip(v, low, high), bins=bins, density=True, histtype="step", linewidth=1.6, label=name)
        ax.set_title(key, fontsize=10)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Singing deviations per take: REAL (MASTmelody performances vs piano takes) vs SIMULATED "
                 "(Essen notes, default and realistic singer)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="MASTmelody folder (f0data.tar.xz or f0data/)")
    parser.add_argument("--max-performances", type=int, help="measure a seeded subset of the real performances")
    parser.add_argument("--essen-songs", type=int, default=300, help="simulated renditions per singer (default 300)")
    parser.add_argument("--excerpt-s", type=float, default=6.0, help="seconds of each Essen melody sung (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="results/singer")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.source):
        parser.error(f"--source {args.source!r} is not a folder; expected the MASTmelody folder")
    sources = {"real (MASTmelody)": real_statistics(args.source, args.max_performances, args.seed)}
    for singer, rows in simulated_statistics(args.essen_songs, args.seed, args.excerpt_s).items():
        sources[f"simulated ({singer})"] = rows
    os.makedirs(args.output_dir, exist_ok=True)
    summary = {name: quartiles(rows) for name, rows in sources.items()}
    with open(os.path.join(args.output_dir, "singer_statistics.json"), "w", encoding="utf-8") as f:
        json.dump({"summary": summary, "counts": {n: len(r) for n, r in sources.items()}, "takes": sources}, f)
    names = list(sources)
    lines = ["| statistic (per take) | " + " | ".join(f"{n} (n={len(sources[n])})" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for key in summary[names[0]]:
        cells = [f"{summary[n][key][1]:.3g} [{summary[n][key][0]:.3g}, {summary[n][key][2]:.3g}]" for n in names]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    with open(os.path.join(args.output_dir, "singer_statistics.md"), "w", encoding="utf-8") as f:
        f.write("# Singing deviations per take: median [25 %, 75 %]\n\n" + table + "\n")
    plot(sources, os.path.join(args.output_dir, "singer_statistics.png"))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
