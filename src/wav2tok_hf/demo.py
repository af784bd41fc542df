"""The main job: build the embedded Essen corpus, train ``wav2tok-qbsh`` and compare it with baselines on unseen songs."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from importlib import resources
from typing import Any

from .retrieval.encoders import (
    Encoder,
    baseline_encoder,
    model_encoder,
    pin_threads,
    with_ranking_variants,
)
from .retrieval.evaluation import (
    PROTOCOL_SPLITS,
    condition_sets,
    format_table,
    retrieval_set_from_split,
    run_benchmark,
)
from .saving import write_file_atomic

logger = logging.getLogger(__name__)
DEMO_CONFIG = "released/qbsh-intervals.yaml"  # relative to configs/ (the recipe of checkpoints/wav2tok-qbsh)
DEMO_BASELINES = ("vq-logmel-ed", "logmel-dtw", "pitch-notes-ed", "relative-note-dtw", "pitch-contour-dtw")
ESSEN_CARD_FIELDS = {
    "training_data": "Simulated sung/hummed renditions of Essen folk melodies bundled with music21 (`wav2tok data essen`): "
                     "pairs are two renditions of the same song; validation and test songs are never trained on.",
    "training_audio": "Synthetic: real melodies (the Essen folk song collection) rendered by a simulated singer "
                      "(random key, tempo, timing jitter, intonation error, drift, vibrato, glides, wrong notes, "
                      "breath noise, hum/vowel timbre) at 8 kHz. No recorded audio was used.",
}


def packaged_config(name: str = DEMO_CONFIG) -> str:
    """Path of an experiment config shipped with the package (``wav2tok_hf/configs``; in a source checkout, the
    repository's ``configs/``, which the wheel packages); ``name`` is relative to it, e.g. ``released/qbsh.yaml``.

    Example:
        >>> os.path.basename(packaged_config())
        'qbsh-intervals.yaml'
    """
    installed = resources.files("wav2tok_hf") / "configs"
    for part in name.split("/"):
        installed = installed / part
    if installed.is_file():
        return str(installed)
    checkout = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", *name.split("/"))
    if os.path.isfile(checkout):
        return os.path.normpath(checkout)
    raise FileNotFoundError(f"packaged experiment config {name!r} not found; pass --config PATH")


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    # always shown when enabled (also in a log file): a long step must never look like a hang
    return tqdm(total=total, desc=desc, disable=not enabled, file=sys.stderr, mininterval=2.0)


def fit_baselines(names: tuple[str, ...], train_split: Any, sampling_rate: int, max_fit_clips: int = 200, seed: int = 0,
                  progress: bool = False) -> list[Encoder]:
    """Create the named baselines at ``sampling_rate`` and fit those that learn (K-means) on training clips."""
    import numpy as np

    from .audio_utils import load_audio
    from .retrieval import create_baseline

    rows = np.random.default_rng(seed).permutation(len(train_split))[:max_fit_clips].tolist()
    audio = train_split.select_columns(["audio"])
    fit_audio = [load_audio(audio[i]["audio"], target_sampling_rate=sampling_rate)[0] for i in rows]
    encoders = []
    with _bar(len(names), "fit baselines", progress) as bar:
        for name in names:
            bar.set_postfix_str(name)
            baseline = create_baseline(name, sampling_rate=sampling_rate)
            baseline.fit(fit_audio, sampling_rate=sampling_rate)
            encoders.append(baseline_encoder(baseline, name))
            bar.update(1)
    return encoders


PROTOCOL_NOTES = {
    "unseen": "unseen songs",
    "closed-set": "closed-set: other renditions of TRAINING songs, the paper's protocol",
}


def evaluate_protocols(model: Any, corpus: Any, protocols: tuple[str, ...] = ("unseen", "closed-set"),
                       baselines: tuple[str, ...] = DEMO_BASELINES, max_queries: int | None = None, seed: int = 0,
                       synthetic: bool = True, name: str = "essen-synthetic-hums", progress: bool = False,
                       timings: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """V / TS / PS MRR of a trained model and baselines, one result block per protocol.

    With ``progress``, a bar per step (baseline fitting, each protocol: one tick per encoder and condition);
    ``timings`` (when given) receives the seconds of each step and of each encoder within a protocol.

    ``unseen`` searches the test split (songs never trained on); ``closed-set`` searches a seeded subset of the
    training songs of the same size as the test split's (so that the two differ only in whether the songs were
    trained on). The baselines are fitted once, on training clips.
    """
    unknown = sorted(set(protocols) - set(PROTOCOL_NOTES))
    if unknown:
        raise ValueError(f"protocols {unknown}; accepted: {sorted(PROTOCOL_NOTES)}")
    timings = {} if timings is None else timings
    sr = model.config.sampling_rate
    start = time.perf_counter()
    encoders = with_ranking_variants([model_encoder(model, "wav2tok")]
                                     + fit_baselines(baselines, corpus["train"], sr, seed=seed, progress=progress))
    timings["fit baselines"] = time.perf_counter() - start
    pin_threads(encoders, threads=1)
    num_songs = len(set(corpus["test"]["label"]))
    blocks = []
    for protocol in protocols:
        start = time.perf_counter()
        retrieval = retrieval_set_from_split(corpus[PROTOCOL_SPLITS[protocol]], sr, max_queries=max_queries, seed=seed,
                                             synthetic=synthetic, name=f"{name} ({PROTOCOL_NOTES[protocol]})",
                                             max_labels=num_songs)
        sets = condition_sets(retrieval, seed=seed)
        timings[f"benchmark {protocol}: queries and conditions"] = time.perf_counter() - start
        with _bar(len(encoders) * len(sets), f"benchmark {protocol}", progress) as bar:
            last = [time.perf_counter()]

            def tick(encoder: str, condition: str) -> None:
                now = time.perf_counter()
                key = f"benchmark {protocol}: {encoder}"
                timings[key] = timings.get(key, 0.0) + now - last[0]
                last[0] = now
                bar.set_postfix_str(f"{encoder} {condition}")
                bar.update(1)

            rows = run_benchmark(encoders, sets, progress=tick)
        blocks.append({"corpus": retrieval.name, "protocol": protocol, "synthetic": synthetic, **retrieval.sizes(),
                       "rows": rows})
    return blocks


def check_report_path(report: str) -> None:
    """Refuse, before any work, a report path that cannot be written: its folder missing or a file, or the path
    itself a folder."""
    folder = os.path.dirname(os.path.abspath(report))
    if not os.path.isdir(folder):
        raise ValueError(f"--report {report!r}: its folder {folder!r} does not exist (or is a file); accepted: a file "
                         "path in an existing folder")
    if os.path.isdir(report):
        raise ValueError(f"--report {report!r} is a folder; accepted: a file path in an existing folder")


def format_timings(timings: dict[str, float]) -> str:
    """Where the demo's time went: one line per step, largest share first."""
    total = sum(timings.values())  # the steps are disjoint spans of time
    lines = [f"time: {total / 60:.1f} min in all"]
    for key, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {key:<52} {seconds:8.1f} s  {100 * seconds / max(total, 1e-9):5.1f}%")
    return "\n".join(lines)


def run_demo(config_path: str | None = None, output_dir: str = "wav2tok-qbsh",
             overrides: list[str] | tuple[str, ...] = (), report: str | None = None, overwrite: bool = False,
             progress: bool = True) -> dict[str, Any]:
    """Train the demo experiment (default: the packaged ``released/qbsh-intervals.yaml``), save the model to ``output_dir`` and print
    the benchmark table and where the time went. Every path is checked before any work starts."""
    from .hub import write_model_card
    from .modeling_wav2tok import Wav2TokModel
    from .saving import check_save_target
    from .training import load_experiment
    from .training.arguments import training_arguments
    from .training.experiment import run_training

    config_path = config_path or packaged_config()
    extra = [f"training.output_dir={output_dir}"] + (["training.overwrite_output_dir=true"] if overwrite else [])
    experiment = load_experiment(config_path, [*overrides, *extra])
    training_arguments(experiment.training)  # every training value is checked before the corpus is built
    check_save_target(output_dir, overwrite=overwrite, what="--output-dir")
    report = report or os.path.join(output_dir, "benchmark.json")
    if report != os.path.join(output_dir, "benchmark.json"):
        check_report_path(report)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    result, corpus = run_training(experiment)
    train_s = time.perf_counter() - start
    timings["corpus and training"] = train_s
    model = Wav2TokModel.from_pretrained(output_dir)
    blocks = evaluate_protocols(model, corpus, progress=progress, timings=timings)
    summary = {**blocks[0], "experiment": experiment.name, "train_seconds": round(train_s, 1), "steps": result.steps,
               "best_validation_mrr": result.best_metric, "best_step": result.best_step, "protocols": blocks,
               "timings_s": {k: round(v, 2) for k, v in timings.items()}}
    for block in blocks:
        songs = "unseen songs" if block["protocol"] == "unseen" else "TRAINING songs (closed-set, the paper's protocol)"
        title = (f"Essen melodies, SYNTHETIC hums, {block['num_queries']} queries vs {block['num_database']} {songs} "
                 f"(chance MRR {block['chance_mrr']:.3f}); trained {train_s / 60:.1f} min")
        print(format_table(block["rows"], title=title) + "\n")
    write_file_atomic(report, lambda f: f.write(json.dumps(summary, indent=1).encode("utf-8")))
    write_model_card(output_dir, benchmark_json=blocks, card_fields=ESSEN_CARD_FIELDS)
    print(format_timings(timings))
    print(f"\nmodel saved to {output_dir} (AutoModel.from_pretrained({output_dir!r})); numbers in {report}")
    return summary

