"""Spoken term detection benchmark in the layout of the wav2tok paper's Table 4 (``scripts/benchmark_std.py``).

Two corpora: Speech Commands words concatenated into utterances (``prepare_std``; :func:`commands_std_data`), or
speechocean762's real connected read speech (:func:`ocean_std_data`). :func:`run_std_benchmark` searches every
query in every utterance with the wav2tok model (semi-global ED over tokens, subsequence DTW over frame embeddings,
and weighted ED to windows of each utterance tokenised on their own) and with the baselines, scores the detections
with :func:`~wav2tok_hf.retrieval.std.evaluate_std` (threshold chosen on validation, F1 and MAP on test) and returns
the report and its table.

Usage (the corpus comes from ``prepare_std``; ``model`` is a saved ``Wav2TokModel`` loaded from ``model_dir``)::

    data = commands_std_data(prepare_std(source), {}, False, model_dir, source, max_queries=100)
    report, markdown = run_std_benchmark(model, "wav2tok", model_dir, data, baselines=["logmel-dtw"])

Example:
    >>> row_key("subsequence_levenshtein"), row_key("subsequence_dtw"), row_key("windowed_levenshtein")
    ('ed', 'sdtw', 'win')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..retrieval.std import (WINDOW_HOP_S, WINDOW_LENGTHS_S, STDSet, evaluate_std, random_detector_map,
                             std_set_from_splits)
from .provenance import build_note, training_data_section

logger = logging.getLogger(__name__)

SAMPLING_RATE = 16000
AUDIO = ("CONSTRUCTED from REAL speech: Speech Commands words concatenated into utterances with real background "
         "noise (not natural continuous speech)")
OCEAN_AUDIO = ("REAL connected read speech (speechocean762 utterances by non-native children and adults, CC BY 4.0); "
               "word times are machine forced alignments")
DEFAULT_BASELINES = ["logmel-dtw", "vq-logmel-ed", "pocketsphinx-phones", "wav2vec2-o", "wav2vec2-multi"]
PROTOCOL = ("threshold chosen on validation, F1 on test (unseen query speakers); MAP of the ranked test "
            "detections")
SPLITS = ("validation", "test")


@dataclass
class STDData:
    """The validation and test STD sets of one run, and where they came from."""

    sets: dict[str, STDSet]  # "validation", "test"
    fit_split: Any  # training utterances, for baselines that learn (vq-logmel-ed's K-means)
    corpus: str  # report name: "std" or "std-speechocean762"
    audio: str  # what the audio is, in words
    constructed: bool  # utterances concatenated from words (not natural connected speech)
    build: dict[str, Any]
    from_cache: bool
    warnings: list[str]


ROW_KEYS = {"subsequence_levenshtein": "ed", "subsequence_dtw": "sdtw", "windowed_levenshtein": "win"}
SEARCHES = {"ed": "semi-global ED over tokens", "sdtw": "subsequence DTW over frames",
            "win": "normalised weighted ED to windows tokenised alone"}


def row_key(distance: str) -> str:
    """The column prefix of a result: ``ed`` for token search, ``sdtw`` for frame search, ``win`` for windows."""
    return ROW_KEYS[distance]


def speaker_overlap(model_dir: str, corpus: Any, source: str | None) -> str | None:
    """Warn when the model was trained on Speech Commands speakers that speak in this STD test split."""
    data = training_data_section(model_dir)
    if not data or data.get("corpus") != "speech-commands" or not source:
        return None
    from ..data.speech_commands import load_speech_commands_clips, select_clips, split_by_speaker

    build = dict(data.get("build") or {})
    try:
        clips = select_clips(load_speech_commands_clips(data.get("source") or source), build.get("include_unknown", True),
                             build.get("include_silence", False), build.get("max_clips"), build.get("seed", 0))
        train = {c.speaker for c in split_by_speaker(clips, build.get("split_fractions", (0.8, 0.1, 0.1)),
                                                     build.get("seed", 0))["train"]}
    except (OSError, ValueError) as error:
        return f"could not check the model's training speakers ({error})"
    test = {s for row in corpus["test"]["speakers"] for s in row} | set(corpus["test_queries"]["speaker"])
    shared = sorted(train & test)
    if shared:
        return (f"{len(shared)} of the {len(test)} STD test speakers were in the model's training split "
                f"(e.g. {shared[:3]}): the test is not speaker-independent for it")
    return None


def commands_std_data(corpus: Any, build: dict[str, Any], from_cache: bool, model_dir: str, source: str | None, *,
                      max_queries: int | None = None, max_utterances: int | None = None, seed: int = 0) -> STDData:
    """The STD sets of a ``prepare_std`` corpus (Speech Commands words concatenated into utterances)."""
    warnings = [w for w in [speaker_overlap(model_dir, corpus, source)] if w]
    sets = {split: std_set_from_splits(corpus[split], corpus[f"{split}_queries"], SAMPLING_RATE,
                                       max_queries=max_queries, seed=seed, max_utterances=max_utterances,
                                       name=f"std/{split}")
            for split in SPLITS}
    return STDData(sets, corpus["train"], "std", AUDIO, True, build, from_cache, warnings)


def ocean_std_data(corpus: Any, build: dict[str, Any], from_cache: bool, model_dir: str, *,
                   query_speaker_fraction: float = 0.3, queries_per_word: int = 2, min_query_s: float = 0.3,
                   max_queries: int | None = None, max_utterances: int | None = None, seed: int = 0) -> STDData:
    """The STD sets of speechocean762's validation and test speakers (``speechocean762_std_splits``); a split with
    too few speakers or words raises ``ValueError`` naming it."""
    from ..data import speechocean762_std_splits

    std_build = {"query_speaker_fraction": query_speaker_fraction, "queries_per_word": queries_per_word,
                 "min_query_s": min_query_s, "seed": seed}
    sets = {}
    for split in SPLITS:
        try:
            utterances, queries = speechocean762_std_splits(corpus, split, **std_build)
        except ValueError as error:
            raise ValueError(f"speechocean762 {split} split: {error}") from error
        sets[split] = std_set_from_splits(utterances, queries, SAMPLING_RATE, max_queries=max_queries, seed=seed,
                                          max_utterances=max_utterances, name=f"std/{split}")
    build = {**build, "std": std_build}
    warnings = [w for w in [build_note(model_dir, "speechocean762", build, from_cache)] if w]
    return STDData(sets, corpus["train_utterances"], "std-speechocean762", OCEAN_AUDIO, False, build, from_cache,
                   warnings)


def _fit_audio(split: Any, seed: int, max_utterances: int = 50) -> list[np.ndarray]:
    """Training-split utterances (seeded subset) for baselines that learn (vq-logmel-ed K-means)."""
    from ..audio_utils import load_audio

    rows = np.random.default_rng(seed).permutation(len(split))[:max_utterances].tolist()
    audio = split.select_columns(["audio"])
    return [load_audio(audio[i]["audio"], target_sampling_rate=SAMPLING_RATE)[0] for i in rows]


def std_encoders(model: Any, name: str, data: STDData, baselines: Sequence[str] = (),
                 hub_baselines: Sequence[tuple[str, Any]] = (), seed: int = 0, threads: int = 1) -> list:
    """The systems under test: the model three times (tokens, frames, windows), the local ``baselines`` (fit on the
    training split where they learn), then the already loaded ``(label, baseline)`` Hub baselines; torch threads pinned."""
    from ..retrieval import create_baseline
    from ..retrieval.encoders import baseline_std_encoder, model_std_encoder, pin_threads

    encoders = [model_std_encoder(model, name, distance) for distance in ROW_KEYS]
    fit_audio = _fit_audio(data.fit_split, seed) if "vq-logmel-ed" in baselines else None
    for baseline_name in baselines:
        baseline = create_baseline(baseline_name, sampling_rate=SAMPLING_RATE)
        if fit_audio is not None:
            baseline.fit(fit_audio, sampling_rate=SAMPLING_RATE)
        encoders.append(baseline_std_encoder(baseline, baseline_name))
    encoders += [baseline_std_encoder(baseline, label) for label, baseline in hub_baselines]
    return pin_threads(encoders, threads)


def run_std_benchmark(model: Any, name: str, model_dir: str, data: STDData, *, baselines: Sequence[str] = (),
                      hub_baselines: Sequence[tuple[str, Any]] = (), skipped: Sequence[dict[str, str]] = (),
                      min_overlap: float = 0.0, seed: int = 0, threads: int = 1,
                      window_lengths_s: Sequence[float] = WINDOW_LENGTHS_S,
                      window_hop_s: float = WINDOW_HOP_S) -> tuple[dict[str, Any], str]:
    """Evaluate the model and the baselines on ``data``'s STD sets.

    Args:
        model, name, model_dir: the wav2tok model, its row name and its folder.
        baselines: registered local baselines (created here); ``hub_baselines``: ``(label, baseline)`` pairs already
            loaded; ``skipped``: ``{"model", "reason"}`` of the baselines that could not be loaded (rows "skipped").
        min_overlap: fraction of a word a detection must overlap to hit it.
        window_lengths_s, window_hop_s: the windows of the model's ``windowed_levenshtein`` search.

    Returns ``(report, markdown)``: the report (``rows`` with ``ed_f1``, ``ed_map``, ``ed_search_s``, ``sdtw_*``,
    ``win_*`` and every ``evaluate_std`` result under ``results``) and its table.
    """
    results = []
    for encoder in std_encoders(model, name, data, baselines, hub_baselines, seed, threads):
        logger.info("STD %s (%s)", encoder.name, encoder.distance)
        results.append(evaluate_std(encoder, data.sets["validation"], data.sets["test"], min_overlap=min_overlap,
                                    window_lengths_s=tuple(window_lengths_s), window_hop_s=window_hop_s))
    rows: dict[str, dict] = {}
    for result in results:
        row = rows.setdefault(result["model"], {"model": result["model"], "results": []})
        key = row_key(result["distance"])
        row[f"{key}_f1"], row[f"{key}_map"], row[f"{key}_search_s"] = result["f1"], result["map"], result["search_s"]
        row["results"].append(result)
    test, validation = data.sets["test"], data.sets["validation"]
    report = {"corpus": data.corpus, "synthetic": False, "constructed": data.constructed, "audio": data.audio,
              "protocol": PROTOCOL, "num_queries": len(test.queries), "num_utterances": len(test.utterances),
              "num_occurrences": sum(len(test.occurrences[w]) for w in test.query_labels),
              "validation": {"num_queries": len(validation.queries), "num_utterances": len(validation.utterances)},
              "min_overlap": min_overlap,
              "windows": {"lengths_s": list(window_lengths_s), "hop_s": window_hop_s}, "rows": list(rows.values()), "skipped": list(skipped),
              "warnings": data.warnings, "seed": seed, "corpus_build": data.build,
              "corpus_from_cache": data.from_cache, "models": {name: model_dir},
              "chance_map": random_detector_map(test, seed=seed, min_overlap=min_overlap)}
    return report, std_markdown(report)


def std_markdown(report: dict[str, Any]) -> str:
    """The table of a :func:`run_std_benchmark` report (a skipped baseline is a "skipped" row)."""
    audio, warnings, skipped = report["audio"], report["warnings"], report["skipped"]
    markdown = [f"# Spoken term detection ({audio})", ""]
    markdown += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
    markdown += [f"**STD, {audio}: {report['num_queries']} test queries (speakers not in any utterance) x "
                 f"{report['num_utterances']} test utterances; threshold chosen on {report['validation']['num_queries']} "
                 f"validation queries x {report['validation']['num_utterances']} validation utterances; MAP chance "
                 f"{report['chance_map']:.3f} (a random segment in every utterance, utterances in random order)**", "",
                 "| model | search | F1 (test, validation threshold) | MAP | search s/query | (test-oracle F1) |",
                 "|---|---|---|---|---|---|"]
    for row in report["rows"]:
        for r in row["results"]:
            markdown.append(f"| {row['model']} | {SEARCHES[row_key(r['distance'])]} | {r['f1']:.3f} | {r['map']:.3f} | "
                            f"{r['search_s']:.4f} | {r['test_oracle_f1']:.3f} |")
    markdown += [f"| {s['model']} | skipped | — | — | — | — |" for s in skipped]
    markdown.append("")
    if skipped:
        markdown += ["Skipped:", *[f"- {s['model']}: skipped: {s['reason']}" for s in skipped], ""]
    return "\n".join(markdown)
