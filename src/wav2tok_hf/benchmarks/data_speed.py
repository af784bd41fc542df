"""Speed of the data recipes and augmentation (``scripts/bench_data.py``): build time per corpus at small sizes and
augmentation throughput. Corpora whose source is missing from the shared data folder are left out.

Example:
    >>> import numpy as np
    >>> row = throughput("identity", lambda clip: clip, [np.zeros(10, np.float32)] * 3, threads=1)
    >>> row["item"], row["rows"]
    ('identity (torch threads=1)', 3)
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _audio_seconds(dataset: Any) -> float:
    from ..audio_utils import load_audio

    total = 0.0
    for split in dataset.values():
        for row in split.select_columns(["audio"]):
            wave, rate = load_audio(row["audio"])
            total += len(wave) / rate
    return total


def build_row(name: str, audio: str, run: Callable[[], Any]) -> dict[str, Any]:
    """Time ``run()`` (a corpus recipe returning a ``DatasetDict``): rows, hours of audio, seconds, rows per second."""
    start = time.perf_counter()
    dataset = run()
    seconds = time.perf_counter() - start
    rows = sum(dataset.num_rows.values())
    return {"item": name, "audio": audio, "rows": rows, "audio_hours": _audio_seconds(dataset) / 3600,
            "seconds": seconds, "rate": f"{rows / seconds:.0f} rows/s"}


def throughput(name: str, transform: Callable[[Any], Any], clips: Sequence[Any], threads: int) -> dict[str, Any]:
    """Time ``transform`` over ``clips`` (3 s clips, after one warm-up call) on ``threads`` torch threads; the
    previous thread count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        transform(clips[0])  # warm-up
        start = time.perf_counter()
        for clip in clips:
            transform(clip)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    return {"item": f"{name} (torch threads={threads})", "audio": "synthetic (noise clips)",
            "rows": len(clips), "audio_hours": len(clips) * 3.0 / 3600, "seconds": seconds,
            "rate": f"{len(clips) / seconds:.0f} clips/s"}


def _corpus_rows(shared: Path, essen_songs: tuple[int, int, int]) -> list[dict[str, Any]]:
    from ..data import (prepare_essen, prepare_mastmelody, prepare_mastmelody_samples, prepare_speech_commands,
                        prepare_std)

    speech, mast = shared / "speech_commands_test_v0.02", shared / "mastmelody"
    results = [build_row(f"essen {essen_songs} songs x (1 ref + 4 hums)", "synthesised (real melodies)",
                         lambda: prepare_essen(num_songs=essen_songs, queries_per_song=4))]
    if mast.is_dir():
        results.append(build_row("mastmelody 5 melodies, <= 10+10 files each", "re-synthesised from real f0",
                                 lambda: prepare_mastmelody(mast, max_melodies=5, max_files_per_melody=10)))
        results.append(build_row("mastmelody wavSamples", "real", lambda: prepare_mastmelody_samples(mast)))
    if speech.is_dir():
        results.append(build_row("speech-commands 500 clips", "real",
                                 lambda: prepare_speech_commands(speech, max_clips=500)))
        results.append(build_row("speech-commands all 4,482 word clips", "real",
                                 lambda: prepare_speech_commands(speech)))
        results.append(build_row("std (20, 5, 10) utterances", "constructed from real speech",
                                 lambda: prepare_std(speech, num_utterances=(20, 5, 10), max_clips=1500)))
    return results


def _augment_rows(clips: int) -> list[dict[str, Any]]:
    import numpy as np

    from ..data import Augmenter, PairDataset, pitch_shift, prepare_essen, time_stretch

    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(24000).astype(np.float32) for _ in range(clips)]
    augment = Augmenter()
    results = [throughput("Augmenter: pitch [-6,5] + stretch [0.9,1.5], 3 s @ 8 kHz",
                          lambda w: augment(w, 8000, rng), waves, threads) for threads in (1, 2)]
    results.append(throughput("pitch_shift +3 st, 3 s @ 8 kHz", lambda w: pitch_shift(w, 8000, 3), waves, 2))
    results.append(throughput("time_stretch 1.25, 3 s @ 8 kHz", lambda w: time_stretch(w, 8000, 1.25), waves, 2))
    essen = prepare_essen(num_songs=(20, 1, 1), queries_per_song=1)
    pairs = PairDataset(essen["train"], sampling_rate=8000, mode="unlabelled", crop_s=3.0)
    results.append(throughput("PairDataset unlabelled item (decode + crop + augment)",
                              lambda i: pairs[i], list(range(len(pairs))), 2))
    results[-1]["audio"] = "synthesised (Essen)"
    return results


def data_speed(shared_data: str | os.PathLike, essen_songs: Sequence[int] = (30, 5, 10),
               clips: int = 200) -> tuple[dict[str, Any], str]:
    """Build the corpora found in ``shared_data`` (Essen always, ``essen_songs`` songs per split) and time the
    augmentations on ``clips`` noise clips of 3 s. Returns ``(report, markdown)``: ``{"machine", "results":
    [{"item", "audio", "rows", "audio_hours", "seconds", "rate"}]}`` and the table."""
    import torch

    results = _corpus_rows(Path(shared_data), tuple(essen_songs)) + _augment_rows(clips)
    lines = ["| item | audio | rows | audio h | seconds | rate |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['item']} | {r['audio']} | {r['rows']} | {r['audio_hours']:.3f} | {r['seconds']:.2f} | {r['rate']} |"
              for r in results]
    machine = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    return {"machine": machine, "results": results}, "\n".join(lines)
