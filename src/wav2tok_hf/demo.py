"""The main job: build the embedded Essen corpus, train ``wav2tok-qbsh`` and compare it with baselines on unseen songs."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from .benchmark import (
    PROTOCOL_SPLITS,
    Encoder,
    baseline_encoder,
    condition_sets,
    format_table,
    model_encoder,
    pin_threads,
    retrieval_set_from_split,
    run_benchmark,
    with_ranking_variants,
)

logger = logging.getLogger(__name__)
DEMO_BASELINES = ("vq-logmel-ed", "logmel-dtw", "pitch-notes-ed", "relative-note-dtw", "pitch-contour-dtw")
ESSEN_CARD_FIELDS = {
    "training_data": "Simulated sung/hummed renditions of Essen folk melodies bundled with music21 (`wav2tok data essen`): "
                     "pairs are two renditions of the same song; validation and test songs are never trained on.",
    "training_audio": "Synthetic: real melodies (the Essen folk song collection) rendered by a simulated singer "
                      "(random key, tempo, timing jitter, intonation error, drift, vibrato, glides, wrong notes, "
                      "breath noise, hum/vowel timbre) at 8 kHz. No recorded audio was used.",
}


def fit_baselines(names: tuple[str, ...], train_split: Any, sampling_rate: int, max_fit_clips: int = 200, seed: int = 0) -> list[Encoder]:
    """Create the named baselines at ``sampling_rate`` and fit those that learn (K-means) on training clips."""
    import numpy as np

    from .audio_utils import load_audio
    from .retrieval import create_baseline

    rows = np.random.default_rng(seed).permutation(len(train_split))[:max_fit_clips].tolist()
    audio = train_split.select_columns(["audio"])
    fit_audio = [load_audio(audio[i]["audio"], target_sampling_rate=sampling_rate)[0] for i in rows]
    encoders = []
    for name in names:
        baseline = create_baseline(name, sampling_rate=sampling_rate)
        baseline.fit(fit_audio, sampling_rate=sampling_rate)
        encoders.append(baseline_encoder(baseline, name))
    return encoders


PROTOCOL_NOTES = {
    "unseen": "unseen songs",
    "closed-set": "closed-set: other renditions of TRAINING songs, the paper's protocol",
}


def evaluate_protocols(model: Any, corpus: Any, protocols: tuple[str, ...] = ("unseen", "closed-set"),
                       baselines: tuple[str, ...] = DEMO_BASELINES, max_queries: int | None = None, seed: int = 0,
                       synthetic: bool = True, name: str = "essen-synthetic-hums") -> list[dict[str, Any]]:
    """V / TS / PS MRR of a trained model and baselines, one result block per protocol.

    ``unseen`` searches the test split (songs never trained on); ``closed-set`` searches a seeded subset of the
    training songs of the same size as the test split's (so that the two differ only in whether the songs were
    trained on). The baselines are fitted once, on training clips.
    """
    unknown = sorted(set(protocols) - set(PROTOCOL_NOTES))
    if unknown:
        raise ValueError(f"protocols {unknown}; accepted: {sorted(PROTOCOL_NOTES)}")
    sr = model.config.sampling_rate
    encoders = with_ranking_variants([model_encoder(model, "wav2tok")] + fit_baselines(baselines, corpus["train"], sr, seed=seed))
    pin_threads(encoders, threads=1)
    num_songs = len(set(corpus["test"]["label"]))
    blocks = []
    for protocol in protocols:
        retrieval = retrieval_set_from_split(corpus[PROTOCOL_SPLITS[protocol]], sr, max_queries=max_queries, seed=seed,
                                             synthetic=synthetic, name=f"{name} ({PROTOCOL_NOTES[protocol]})",
                                             max_labels=num_songs)
        rows = run_benchmark(encoders, condition_sets(retrieval, seed=seed))
        blocks.append({"corpus": retrieval.name, "protocol": protocol, "synthetic": synthetic, **retrieval.sizes(),
                       "rows": rows})
    return blocks


def run_demo(config_path: str, output_dir: str = "wav2tok-qbsh", overrides: list[str] | tuple[str, ...] = (),
             report: str | None = None) -> dict[str, Any]:
    """Train the demo experiment, save the model to ``output_dir`` and print the benchmark table."""
    from .hub import write_model_card
    from .modeling_wav2tok import Wav2TokModel
    from .training import load_experiment
    from .training.experiment import run_training

    experiment = load_experiment(config_path, [*overrides, f"training.output_dir={output_dir}"])
    start = time.perf_counter()
    result, corpus = run_training(experiment)
    train_s = time.perf_counter() - start
    model = Wav2TokModel.from_pretrained(output_dir)
    blocks = evaluate_protocols(model, corpus)
    summary = {**blocks[0], "experiment": experiment.name, "train_seconds": round(train_s, 1), "steps": result.steps,
               "best_validation_mrr": result.best_metric, "best_step": result.best_step, "protocols": blocks}
    for block in blocks:
        songs = "unseen songs" if block["protocol"] == "unseen" else "TRAINING songs (closed-set, the paper's protocol)"
        title = (f"Essen melodies, SYNTHETIC hums, {block['num_queries']} queries vs {block['num_database']} {songs} "
                 f"(chance MRR {block['chance_mrr']:.3f}); trained {train_s / 60:.1f} min")
        print(format_table(block["rows"], title=title) + "\n")
    report = report or os.path.join(output_dir, "benchmark.json")
    tmp = report + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, report)
    write_model_card(output_dir, benchmark_json=blocks, card_fields=ESSEN_CARD_FIELDS)
    print(f"\nmodel saved to {output_dir} (AutoModel.from_pretrained({output_dir!r})); numbers in {report}")
    return summary

