#!/usr/bin/env python
"""Spoken term detection in the layout of the wav2tok paper's Table 4, on real connected speech or a corpus
constructed from real words.

Corpora: with ``--ocean-source`` / ``--ocean-dir``, REAL CONNECTED READ SPEECH: speechocean762 utterances of the
recipe's validation and test speakers (``speechocean762_std_splits``): a seeded 30 % of each split's speakers only
provide keyword queries (their aligned word clips), the others' utterances are searched; a word's occurrences are its
machine forced-alignment times (approximate, hence "a detection counts when it overlaps the aligned word").
Otherwise, with ``--source``, ``prepare_std`` concatenates real Speech Commands words (by different speakers, with
pauses and real background noise) into utterances with exact word time stamps; keyword queries are the same words
said by speakers who appear in no utterance of the split. Every query is searched in every utterance; the best-matching segment of each
utterance is one detection, scored by its normalised cost:

* ED: semi-global edit distance over wav2tok tokens (``Wav2TokIndex`` ``subsequence_levenshtein``) / query tokens;
  segment times from the tokens' durations.
* S-DTW: subsequence DTW over wav2tok frame embeddings (cosine) / query frames; baseline: the same over per-utterance
  mean-normalised log-mel frames (``logmel-dtw``).
* Hub CTC baselines (``wav2vec2-o``, ``wav2vec2-multi``, ``--hub-model-id``): semi-global ED over greedy CTC ids;
  reported as "skipped: <reason>" when they cannot be loaded (no network, no local cache).

A detection hits an occurrence of the query's word it overlaps (``--min-overlap`` of the word; one hit per
occurrence, best scores first; ``metrics.std_scores``). The threshold on the cost is chosen where F1 is best on the
VALIDATION split (``metrics.std_threshold_sweep``); the table reports TEST F1 at that threshold (and, for reference,
the optimistic test F1 at the test split's own best threshold) and search seconds per query (all utterances).

Outputs in ``--output-dir``: ``std.md``, ``std.json`` (``{"corpus": "std", "synthetic": false, "constructed": true,
"audio", "protocol", "num_queries", "num_utterances", "num_occurrences", "validation": {...}, "rows": [{"model",
"ed_f1", "ed_search_s", "sdtw_f1", "sdtw_search_s", "results": [{"distance", "f1", "precision", "recall",
"threshold", "validation_f1", "test_oracle_f1", "search_s", "infer_s", ...}]}], "skipped": [{"model", "reason"}]}``)
and ``std_sweep.png`` (validation F1 against the threshold). Every row also reports the test MAP of the ranked
detections (``map``: per query, detections ranked by cost, a hit is relevant; ``metrics.std_mean_average_precision``)
with its chance level. Everything but timings is deterministic under ``--seed``.

Usage:
    python scripts/benchmark_std.py --model wav2tok-speech --ocean-source ../shared/data/speechocean762_train \
        --ocean-dir data_cache/speechocean762 --output-dir results/std-speechocean
    python scripts/benchmark_std.py --model wav2tok-speech --source ../shared/data/speech_commands_test_v0.02 \
        --num-utterances 20 50 100 --max-queries 100 --output-dir results
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from wav2tok_hf.retrieval.encoders import pin_threads  # noqa: E402
import _plots  # noqa: E402

logger = logging.getLogger("benchmark_std")
SAMPLING_RATE = 16000
AUDIO = ("CONSTRUCTED from REAL speech: Speech Commands words concatenated into utterances with real background "
         "noise (not natural continuous speech)")
OCEAN_AUDIO = ("REAL connected read speech (speechocean762 utterances by non-native children and adults, CC BY 4.0); "
               "word times are machine forced alignments")
DEFAULT_BASELINES = ["logmel-dtw", "vq-logmel-ed", "pocketsphinx-phones", "wav2vec2-o", "wav2vec2-multi"]


def build_parser() -> argparse.ArgumentParser:
    parser = _common.benchmark_parser(__doc__)
    parser.add_argument("--model", required=True, metavar="DIR", help="a saved wav2tok model folder")
    parser.add_argument("--source", help="Speech Commands folder (e.g. ../shared/data/speech_commands_test_v0.02)")
    parser.add_argument("--corpus-dir", help="STD corpus cache: loaded when it exists, else built (and saved there)")
    parser.add_argument("--num-utterances", type=int, nargs=3, default=[20, 50, 100], metavar=("TRAIN", "VAL", "TEST"),
                        help="utterances per split when building (the train split is not used here; default 20 50 100)")
    parser.add_argument("--queries-per-word", type=int, default=2)
    parser.add_argument("--max-clips", type=int, help="build from a seeded subset of this many clips")
    parser.add_argument("--max-utterances", type=int, help="search a seeded subset of this many utterances per split")
    parser.add_argument("--corpus-seed", type=int, help="seed of the corpus build (default: --seed)")
    parser.add_argument("--ocean-source", help="speechocean762 folder or Hub id: STD on its real connected speech")
    parser.add_argument("--ocean-dir", help="speechocean762 corpus cache (prepare_speechocean762): loaded when it "
                                            "exists, else built there")
    parser.add_argument("--query-speaker-fraction", type=float, default=0.3,
                        help="speechocean762: fraction of a split's speakers that only give queries (default 0.3)")
    parser.add_argument("--min-query-s", type=float, default=0.3,
                        help="speechocean762: shortest aligned word used as a query, seconds (default 0.3)")
    parser.add_argument("--min-overlap", type=float, default=0.0,
                        help="fraction of the word a detection must overlap to hit it (default 0: any overlap)")
    _common.add_baseline_arguments(parser, DEFAULT_BASELINES)
    _common.add_common_arguments(parser, plots=True)
    return parser


def load_corpus(args, parser):
    from wav2tok_hf.data import prepare_std

    build = {"num_utterances": tuple(args.num_utterances), "queries_per_word": args.queries_per_word,
             "seed": args.corpus_seed if args.corpus_seed is not None else args.seed}
    if args.max_clips is not None:
        build["max_clips"] = args.max_clips
    return _common.load_or_build_corpus(parser, prepare_std, args.source, args.corpus_dir, build, label="STD",
                                        missing="pass --source (the Speech Commands folder) or an existing "
                                                "--corpus-dir")


def load_ocean_sets(args, parser):
    """STD sets of speechocean762's validation and test speakers: ``(sets, build, cached)``."""
    from wav2tok_hf.retrieval.std import std_set_from_splits
    from wav2tok_hf.data import prepare_speechocean762, speechocean762_std_splits

    corpus, build, from_cache = _common.load_or_build_corpus(
        parser, prepare_speechocean762, args.ocean_source, args.ocean_dir,
        {"seed": args.corpus_seed if args.corpus_seed is not None else args.seed}, label="speechocean762",
        source_flag="--ocean-source",
        missing="pass --ocean-source (the speechocean762 folder or Hub id) or an existing --ocean-dir")
    std_build = {"query_speaker_fraction": args.query_speaker_fraction, "queries_per_word": args.queries_per_word,
                 "min_query_s": args.min_query_s, "seed": args.seed}
    sets = {}
    for split in ("validation", "test"):
        try:
            utterances, queries = speechocean762_std_splits(corpus, split, **std_build)
        except ValueError as error:
            parser.error(f"speechocean762 {split} split: {error}")
        sets[split] = std_set_from_splits(utterances, queries, SAMPLING_RATE, max_queries=args.max_queries,
                                          seed=args.seed, max_utterances=args.max_utterances, name=f"std/{split}")
    return corpus, sets, {**build, "std": std_build}, from_cache


def speaker_overlap(model_dir: str, corpus, source: str | None) -> str | None:
    """Warn when the model was trained on Speech Commands speakers that speak in this STD test split."""
    data = _common.training_data_section(model_dir)
    if not data or data.get("corpus") != "speech-commands" or not source:
        return None
    from wav2tok_hf.data.speech_commands import load_speech_commands_clips, select_clips, split_by_speaker

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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = _common.parse_args(parser, argv)
    for flag in ("max_utterances", "max_clips", "queries_per_word"):
        _common.check_positive(parser, getattr(args, flag), "--" + flag.replace("_", "-"))
    _common.check_source(parser, args.source)
    _common.check_baselines(parser, args.baselines)
    (name, model, model_dir), = _common.load_models(parser, [args.model])

    from wav2tok_hf.retrieval.encoders import baseline_std_encoder, model_std_encoder
    from wav2tok_hf.retrieval.std import evaluate_std, std_set_from_splits
    from wav2tok_hf.retrieval import create_baseline

    start = time.perf_counter()
    ocean = bool(args.ocean_source or args.ocean_dir)
    if ocean:
        corpus, sets, build, cached = load_ocean_sets(args, parser)
        warnings = [w for w in [_common.build_note(model_dir, "speechocean762", build, cached)] if w]
        fit_split, audio, corpus_name = corpus["train_utterances"], OCEAN_AUDIO, "std-speechocean762"
    else:
        corpus, build, cached = load_corpus(args, parser)
        warnings = [w for w in [speaker_overlap(model_dir, corpus, args.source)] if w]
        sets = {split: std_set_from_splits(corpus[split], corpus[f"{split}_queries"], SAMPLING_RATE,
                                           max_queries=args.max_queries, seed=args.seed,
                                           max_utterances=args.max_utterances, name=f"std/{split}")
                for split in ("validation", "test")}
        fit_split, audio, corpus_name = corpus["train"], AUDIO, "std"
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    local, hub = _common.split_baselines(args.baselines)
    encoders = [model_std_encoder(model, name, "subsequence_levenshtein"),
                model_std_encoder(model, name, "subsequence_dtw")]
    fit_audio = _fit_audio(fit_split, args.seed) if "vq-logmel-ed" in local else None
    for baseline_name in local:
        baseline = create_baseline(baseline_name, sampling_rate=SAMPLING_RATE)
        if fit_audio is not None:
            baseline.fit(fit_audio, sampling_rate=SAMPLING_RATE)
        encoders.append(baseline_std_encoder(baseline, baseline_name))
    hub_loaded, skipped = _common.hub_baselines(hub, args.hub_model_id)
    for s in skipped:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    encoders += [baseline_std_encoder(baseline, label) for label, baseline in hub_loaded]
    pin_threads(encoders, args.threads)
    results = []
    for encoder in encoders:
        logger.info("STD %s (%s)", encoder.name, encoder.distance)
        results.append(evaluate_std(encoder, sets["validation"], sets["test"], min_overlap=args.min_overlap))
    rows: dict[str, dict] = {}
    for result in results:
        row = rows.setdefault(result["model"], {"model": result["model"], "results": []})
        key = "ed" if result["distance"] == "subsequence_levenshtein" else "sdtw"
        row[f"{key}_f1"], row[f"{key}_map"], row[f"{key}_search_s"] = result["f1"], result["map"], result["search_s"]
        row["results"].append(result)
    test = sets["test"]
    report = {"corpus": corpus_name, "synthetic": False, "constructed": not ocean, "audio": audio,
              "protocol": "threshold chosen on validation, F1 on test (unseen query speakers); MAP of the ranked "
                          "test detections",
              "num_queries": len(test.queries), "num_utterances": len(test.utterances),
              "num_occurrences": sum(len(test.occurrences[w]) for w in test.query_labels),
              "validation": {"num_queries": len(sets["validation"].queries),
                             "num_utterances": len(sets["validation"].utterances)},
              "min_overlap": args.min_overlap, "rows": list(rows.values()), "skipped": skipped, "warnings": warnings,
              "seed": args.seed, "corpus_build": build, "corpus_from_cache": cached, "models": {name: model_dir}}
    chance = next((r["chance_map"] for r in results), None)
    report["chance_map"] = chance
    markdown = [f"# Spoken term detection ({audio})", ""]
    markdown += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
    markdown += [f"**STD, {audio}: {report['num_queries']} test queries (speakers not in any utterance) x "
                 f"{report['num_utterances']} test utterances; threshold chosen on {report['validation']['num_queries']} "
                 f"validation queries x {report['validation']['num_utterances']} validation utterances; MAP chance "
                 f"{chance:.3f}**", "",
                 "| model | ED F1 | ED MAP | ED search s/query | S-DTW F1 | S-DTW MAP | S-DTW search s/query | "
                 "(test-oracle F1 ED / S-DTW) |",
                 "|---|---|---|---|---|---|---|---|"]
    fmt = (lambda v, spec: format(v, spec) if v is not None else "—")
    for row in rows.values():
        oracle = {("ed" if r["distance"] == "subsequence_levenshtein" else "sdtw"): r["test_oracle_f1"]
                  for r in row["results"]}
        markdown.append(f"| {row['model']} | {fmt(row.get('ed_f1'), '.3f')} | {fmt(row.get('ed_map'), '.3f')} | "
                        f"{fmt(row.get('ed_search_s'), '.4f')} | {fmt(row.get('sdtw_f1'), '.3f')} | "
                        f"{fmt(row.get('sdtw_map'), '.3f')} | {fmt(row.get('sdtw_search_s'), '.4f')} | "
                        f"{fmt(oracle.get('ed'), '.3f')} / {fmt(oracle.get('sdtw'), '.3f')} |")
    markdown += [f"| {s['model']} | skipped | — | — | skipped | — | — | — |" for s in skipped]
    markdown.append("")
    if skipped:
        markdown += ["Skipped:", *_common.skipped_lines(skipped), ""]
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    if not args.no_plots:
        report["plots"] = [os.path.basename(_plots.plot_std_sweeps(
            results, os.path.join(out, "std_sweep.png"), f"STD validation sweep — {audio[:60]}..."))]
    _common.write_text(os.path.join(out, "std.md"), "\n".join(markdown))
    _common.write_json(os.path.join(out, "std.json"), report)
    print("\n".join(markdown))
    print(f"\nwritten to {out} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _fit_audio(split, seed: int, max_utterances: int = 50) -> list:
    """Training-split utterances (seeded subset) for baselines that learn (vq-logmel-ed K-means)."""
    import numpy as np

    from wav2tok_hf.audio_utils import load_audio

    rows = np.random.default_rng(seed).permutation(len(split))[:max_utterances].tolist()
    audio = split.select_columns(["audio"])
    return [load_audio(audio[i]["audio"], target_sampling_rate=SAMPLING_RATE)[0] for i in rows]


if __name__ == "__main__":
    sys.exit(main())
