"""Benchmark the data recipes and augmentation: build time per corpus (small sizes) and augmentation throughput.

Prints a markdown table and writes the numbers as JSON. The shared corpora are looked up at ``<repo>/../shared/data``
(``--shared-data`` to override); corpora that are missing are reported as skipped.

    python scripts/bench_data.py --output bench_data.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from wav2tok_hf.audio_utils import load_audio
from wav2tok_hf.data import (
    Augmenter,
    PairDataset,
    pitch_shift,
    prepare_essen,
    prepare_mastmelody,
    prepare_mastmelody_samples,
    prepare_speech_commands,
    prepare_std,
    time_stretch,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _audio_seconds(dataset) -> float:
    total = 0.0
    for split in dataset.values():
        for row in split.select_columns(["audio"]):
            wave, rate = load_audio(row["audio"])
            total += len(wave) / rate
    return total


def _build(name, audio, run) -> dict:
    start = time.perf_counter()
    dataset = run()
    seconds = time.perf_counter() - start
    rows = sum(dataset.num_rows.values())
    return {"item": name, "audio": audio, "rows": rows, "audio_hours": _audio_seconds(dataset) / 3600,
            "seconds": seconds, "rate": f"{rows / seconds:.0f} rows/s"}


def _throughput(name, transform, clips, threads) -> dict:
    torch.set_num_threads(threads)
    transform(clips[0])  # warm-up
    start = time.perf_counter()
    for clip in clips:
        transform(clip)
    seconds = time.perf_counter() - start
    return {"item": f"{name} (torch threads={threads})", "audio": "synthetic (noise clips)",
            "rows": len(clips), "audio_hours": len(clips) * 3.0 / 3600, "seconds": seconds,
            "rate": f"{len(clips) / seconds:.0f} clips/s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="bench_data.json", help="JSON file to write (default bench_data.json)")
    parser.add_argument("--shared-data", default=str(REPO_ROOT.parent / "shared" / "data"))
    parser.add_argument("--essen-songs", type=int, nargs=3, default=(30, 5, 10), metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--clips", type=int, default=200, help="3 s clips per augmentation throughput run")
    args = parser.parse_args()
    shared = Path(args.shared_data)
    speech, mast = shared / "speech_commands_test_v0.02", shared / "mastmelody"

    results = [_build(f"essen {tuple(args.essen_songs)} songs x (1 ref + 4 hums)", "synthesised (real melodies)",
                      lambda: prepare_essen(num_songs=tuple(args.essen_songs), queries_per_song=4))]
    if mast.is_dir():
        results.append(_build("mastmelody 5 melodies, <= 10+10 files each", "re-synthesised from real f0",
                              lambda: prepare_mastmelody(mast, max_melodies=5, max_files_per_melody=10)))
        results.append(_build("mastmelody wavSamples", "real", lambda: prepare_mastmelody_samples(mast)))
    if speech.is_dir():
        results.append(_build("speech-commands 500 clips", "real",
                              lambda: prepare_speech_commands(speech, max_clips=500)))
        results.append(_build("speech-commands all 4,482 word clips", "real", lambda: prepare_speech_commands(speech)))
        results.append(_build("std (20, 5, 10) utterances", "constructed from real speech",
                              lambda: prepare_std(speech, num_utterances=(20, 5, 10), max_clips=1500)))

    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(24000).astype(np.float32) for _ in range(args.clips)]
    augment = Augmenter()
    for threads in (1, 2):
        results.append(_throughput("Augmenter: pitch [-6,5] + stretch [0.9,1.5], 3 s @ 8 kHz",
                                   lambda w: augment(w, 8000, rng), clips, threads))
    results.append(_throughput("pitch_shift +3 st, 3 s @ 8 kHz", lambda w: pitch_shift(w, 8000, 3), clips, 2))
    results.append(_throughput("time_stretch 1.25, 3 s @ 8 kHz", lambda w: time_stretch(w, 8000, 1.25), clips, 2))
    essen = prepare_essen(num_songs=(20, 1, 1), queries_per_song=1)
    pairs = PairDataset(essen["train"], sampling_rate=8000, mode="unlabelled", crop_s=3.0)
    results.append(_throughput("PairDataset unlabelled item (decode + crop + augment)",
                               lambda i: pairs[i], list(range(len(pairs))), 2))
    results[-1]["audio"] = "synthesised (Essen)"

    print("| item | audio | rows | audio h | seconds | rate |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['item']} | {r['audio']} | {r['rows']} | {r['audio_hours']:.3f} | {r['seconds']:.2f} | {r['rate']} |")
    machine = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    Path(args.output).write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
