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
* windows: every utterance cut into windows (``--window-lengths`` seconds, every ``--window-hop``), each tokenised on
  its own as a query is, ranked by normalised codebook-weighted ED to the query; the best window of an utterance is
  its detection (a BiLSTM's tokens of a word depend on the words around it; a window sees about what a query sees).
* S-DTW: subsequence DTW over wav2tok frame embeddings (cosine) / query frames; baseline: the same over per-utterance
  mean-normalised log-mel frames (``logmel-dtw``).
* Hub CTC baselines (``wav2vec2-o``, ``wav2vec2-multi``, ``--hub-model-id``): semi-global ED over greedy CTC ids;
  reported as "skipped: <reason>" when they cannot be loaded (no network, no local cache).

A detection hits an occurrence of the query's word it overlaps (``--min-overlap`` of the word; one hit per
occurrence, best scores first; ``metrics.std_scores``). The threshold on the cost is chosen where F1 is best on the
VALIDATION split (``metrics.std_threshold_sweep``); the table reports TEST F1 at that threshold (and, for reference,
the optimistic test F1 at the test split's own best threshold) and search seconds per query (all utterances).

Outputs in ``--output-dir``: ``std.md``, ``std.json`` (``{"corpus": "std", "synthetic": false, "constructed": true,
"audio", "protocol", "num_queries", "num_utterances", "num_occurrences", "validation": {...}, "windows", "rows":
[{"model", "ed_f1", "ed_search_s", "sdtw_f1", "sdtw_search_s", "win_f1", "win_search_s", "results": [{"distance",
"f1", "precision", "recall", "threshold", "validation_f1", "validation_map", "test_oracle_f1", "search_s", "infer_s",
...}]}], "skipped": [{"model", "reason"}]}``)
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
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import _plots  # noqa: E402
from wav2tok_hf.benchmarks.std import DEFAULT_BASELINES, STDData  # noqa: E402
from wav2tok_hf.retrieval.std import WINDOW_HOP_S, WINDOW_LENGTHS_S  # noqa: E402


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
    parser.add_argument("--window-lengths", type=float, nargs="+", default=list(WINDOW_LENGTHS_S), metavar="S",
                        help="window lengths of the windows search, seconds (default %(default)s)")
    parser.add_argument("--window-hop", type=float, default=WINDOW_HOP_S, metavar="S",
                        help="hop between windows, seconds (default %(default)s)")
    _common.add_baseline_arguments(parser, DEFAULT_BASELINES)
    _common.add_common_arguments(parser, plots=True)
    return parser


def load_data(args, parser, model_dir: str) -> STDData:
    """The STD sets: speechocean762's with --ocean-source / --ocean-dir, else prepare_std's (--source /
    --corpus-dir); a source that cannot be built, or a split too small, is a usage error."""
    from wav2tok_hf.benchmarks.std import commands_std_data, ocean_std_data
    from wav2tok_hf.data import prepare_speechocean762, prepare_std

    seed = args.corpus_seed if args.corpus_seed is not None else args.seed
    subsets = {"max_queries": args.max_queries, "max_utterances": args.max_utterances, "seed": args.seed}
    if args.ocean_source or args.ocean_dir:
        corpus, build, cached = _common.load_or_build_corpus(
            parser, prepare_speechocean762, args.ocean_source, args.ocean_dir, {"seed": seed}, label="speechocean762",
            source_flag="--ocean-source",
            missing="pass --ocean-source (the speechocean762 folder or Hub id) or an existing --ocean-dir")
        try:
            return ocean_std_data(corpus, build, cached, model_dir, query_speaker_fraction=args.query_speaker_fraction,
                                  queries_per_word=args.queries_per_word, min_query_s=args.min_query_s, **subsets)
        except ValueError as error:
            parser.error(str(error))
    build = {"num_utterances": tuple(args.num_utterances), "queries_per_word": args.queries_per_word, "seed": seed}
    if args.max_clips is not None:
        build["max_clips"] = args.max_clips
    corpus, build, cached = _common.load_or_build_corpus(
        parser, prepare_std, args.source, args.corpus_dir, build, label="STD",
        missing="pass --source (the Speech Commands folder) or an existing --corpus-dir")
    return commands_std_data(corpus, build, cached, model_dir, args.source, **subsets)


def write_outputs(report: dict, markdown: str, args) -> None:
    """``std.md``, ``std.json`` and (unless --no-plots) ``std_sweep.png`` in --output-dir."""
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    if not args.no_plots:
        results = [result for row in report["rows"] for result in row["results"]]
        report["plots"] = [os.path.basename(_plots.plot_std_sweeps(
            results, os.path.join(out, "std_sweep.png"), f"STD validation sweep — {report['audio'][:60]}..."))]
    _common.write_text(os.path.join(out, "std.md"), markdown)
    _common.write_json(os.path.join(out, "std.json"), report)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = _common.parse_args(parser, argv)
    for flag in ("max_utterances", "max_clips", "queries_per_word"):
        _common.check_positive(parser, getattr(args, flag), "--" + flag.replace("_", "-"))
    _common.check_source(parser, args.source)
    _common.check_baselines(parser, args.baselines)
    if args.window_hop <= 0 or min(args.window_lengths) <= 0:
        parser.error(f"--window-lengths {args.window_lengths} and --window-hop {args.window_hop}: expected positive "
                     "seconds")
    (name, model, model_dir), = _common.load_models(parser, [args.model])
    from wav2tok_hf.benchmarks.std import run_std_benchmark

    start = time.perf_counter()
    data = load_data(args, parser, model_dir)
    for warning in data.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    local, hub = _common.split_baselines(args.baselines)
    hub_loaded, skipped = _common.hub_baselines(hub, args.hub_model_id)
    for s in skipped:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    report, markdown = run_std_benchmark(model, name, model_dir, data, baselines=local, hub_baselines=hub_loaded,
                                         skipped=skipped, min_overlap=args.min_overlap, seed=args.seed,
                                         threads=args.threads, window_lengths_s=tuple(args.window_lengths),
                                         window_hop_s=args.window_hop)
    write_outputs(report, markdown, args)
    print(markdown)
    print(f"\nwritten to {args.output_dir} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
