#!/usr/bin/env python
"""Spoken-word retrieval with unseen speakers (REAL speech: Speech Commands v0.02).

The test split of ``prepare_speech_commands`` holds speakers no model was trained on (speaker-disjoint splits);
``retrieval_set_from_split`` puts half of those speakers in the database and queries with the other half's clips of
the same words, so a speaker never matches their own recording. MRR of vanilla (V), time-stretched (TS) and
pitch-shifted (PS) queries, search and inference seconds per query, for the wav2tok model (ED over tokens; with
``--dtw`` also DTW over its frame embeddings), ``logmel-dtw``, ``vq-logmel-ed`` (K-means fit on the training
split) and the Hub CTC baselines ``wav2vec2-o`` / ``wav2vec2-multi`` (+ ``--hub-model-id``), which are reported as
"skipped: <reason>" when they cannot be loaded (no network, no local cache), never given numbers.

Corpus build settings (``include_unknown``, ``max_clips``, seed) default to the model's ``training_config.json`` when
it was trained on speech-commands, so the test speakers are the ones it never heard.

Outputs in ``--output-dir``: ``speech_commands.md``, ``speech_commands.json`` (``{"corpus", "synthetic": false,
"audio", "protocol": "unseen-speakers", "num_queries", "num_database", "num_classes", "chance_mrr", "rows": [{"model",
"distance", "V", "TS", "PS", "V_top1", ..., "search_s", "infer_s", "ranks"}], "skipped": [{"model", "reason"}],
"warnings", "seed", "corpus_build"}``), ``speech_commands_mrr.png``, ``speech_commands_ranks.png`` and
``speech_commands_tokens.png`` (log-mel of one query with its tokens). Everything but timings is deterministic
under ``--seed``.

Usage:
    python scripts/benchmark_speech.py --model wav2tok-speech --source ../shared/data/speech_commands_test_v0.02 \
        --max-queries 300 --output-dir results
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from wav2tok_hf.benchmark import apply_threads, pin_threads, with_key_search, with_ranking_variants  # noqa: E402
import _plots  # noqa: E402

logger = logging.getLogger("benchmark_speech")
DEFAULT_BASELINES = ["logmel-dtw", "vq-logmel-ed", "wav2vec2-o", "wav2vec2-multi"]
SAMPLING_RATE = 16000
AUDIO = "REAL speech (Speech Commands v0.02 test-set recordings, CC BY 4.0)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, metavar="DIR", help="a saved wav2tok model folder")
    parser.add_argument("--source", help="Speech Commands folder (e.g. ../shared/data/speech_commands_test_v0.02)")
    parser.add_argument("--corpus-dir", help="corpus cache: loaded when it exists, else built (and saved there)")
    parser.add_argument("--max-clips", type=int, help="build from a seeded subset of this many clips")
    parser.add_argument("--include-unknown", choices=["yes", "no"],
                        help="keep the 25 non-keyword words (default: as the model was trained, else yes)")
    parser.add_argument("--corpus-seed", type=int, help="seed of the corpus build (default: the model's, else --seed)")
    parser.add_argument("--baselines", nargs="*", default=DEFAULT_BASELINES,
                        help=f"baselines (default: {' '.join(DEFAULT_BASELINES)})")
    parser.add_argument("--hub-model-id", action="append", default=[], metavar="ID",
                        help="extra Wav2Vec2ForCTC checkpoint (Hub id or folder) as a greedy-CTC ED baseline")
    parser.add_argument("--dtw", action="store_true", help="also DTW over the wav2tok frame embeddings")
    parser.add_argument("--key-search", nargs="+", type=float, metavar="SEMITONES",
                        help="also rank every encoder with a key search: each query at these pitch shifts "
                             "(e.g. -4 -2 0 2 4), each database item by its best distance")
    parser.add_argument("--max-fit-clips", type=int, default=200, help="training clips to fit vq-logmel K-means on")
    parser.add_argument("--no-plots", action="store_true")
    _common.add_common_arguments(parser)
    return parser


def load_corpus(args, parser):
    from wav2tok_hf.benchmark import training_data_section
    from wav2tok_hf.data import prepare_speech_commands

    cached = _common.load_cached_corpus(parser, args.corpus_dir)
    if cached:
        return cached
    if not args.source:
        parser.error("pass --source (the Speech Commands folder) or an existing --corpus-dir")
    data = training_data_section(args.model) or {}
    trained = dict(data.get("build") or {}) if data.get("corpus") == "speech-commands" else {}
    build = {"seed": args.corpus_seed if args.corpus_seed is not None else trained.get("seed", args.seed),
             "include_unknown": (args.include_unknown == "yes") if args.include_unknown
             else bool(trained.get("include_unknown", True))}
    max_clips = args.max_clips if args.max_clips is not None else trained.get("max_clips")
    if max_clips is not None:
        build["max_clips"] = max_clips
    for key in ("split_fractions", "include_silence"):
        if key in trained:
            build[key] = tuple(trained[key]) if key == "split_fractions" else trained[key]
    logger.info("building Speech Commands corpus %s", build)
    try:
        return prepare_speech_commands(args.source, args.corpus_dir, **build), build, False
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        parser.error(f"--source {args.source!r}: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _common.setup_logging(args.verbose)
    apply_threads(args.threads)
    _common.check_positive(parser, args.max_queries, "--max-queries")
    _common.check_source(parser, args.source)
    _common.check_baselines(parser, args.baselines)
    (name, model, model_dir), = _common.load_models(parser, [args.model])
    if model.config.sampling_rate != SAMPLING_RATE:
        logger.warning("model rate %d Hz; the 16 kHz audio is resampled for it", model.config.sampling_rate)

    from wav2tok_hf.benchmark import (condition_sets, hub_baseline_encoders, model_encoder,
                                      retrieval_set_from_split, run_benchmark)
    from wav2tok_hf.demo import fit_baselines

    start = time.perf_counter()
    corpus, build, cached = load_corpus(args, parser)
    warnings = [w for w in [_common.build_note(model_dir, "speech-commands", build, cached)] if w]
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    try:
        retrieval = retrieval_set_from_split(corpus["test"], SAMPLING_RATE, max_queries=args.max_queries,
                                             seed=args.seed, synthetic=False, name="speech-commands/test")
    except ValueError as error:
        parser.error(f"the test split ({len(corpus['test'])} clips) gives no query/database pair of the same word by "
                     f"different speakers ({error}); use more clips (--max-clips) or --include-unknown no")
    sets = condition_sets(retrieval, seed=args.seed)
    local, hub = _common.split_baselines(args.baselines)
    encoders = [model_encoder(model, name)] + ([model_encoder(model, name, distance="dtw")] if args.dtw else [])
    if local:
        encoders += fit_baselines(tuple(local), corpus["train"], SAMPLING_RATE, max_fit_clips=args.max_fit_clips,
                                  seed=args.seed)
    hub_encoders, skipped = hub_baseline_encoders(hub, args.hub_model_id)
    for s in skipped:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    encoders = with_ranking_variants(encoders + hub_encoders)
    if args.key_search:
        encoders = with_key_search(encoders, tuple(args.key_search))
    encoders = pin_threads(encoders, args.threads)
    rows = run_benchmark(encoders, sets, details=True)
    report = {"corpus": "speech-commands", "synthetic": False, "audio": AUDIO, "protocol": "unseen-speakers",
              "protocol_note": "test-split speakers (never trained on); half of them form the database, the other "
                               "half query it with the same words",
              **retrieval.sizes(), "rows": rows,
              "skipped": skipped, "warnings": warnings, "seed": args.seed, "corpus_build": build,
              "key_search_semitones": args.key_search,
              "corpus_from_cache": cached, "models": {name: model_dir}}
    title = (f"Spoken-word retrieval, {AUDIO}; unseen speakers: {report['num_queries']} queries vs "
             f"{report['num_database']} clips of {report['num_classes']} words; chance MRR {report['chance_mrr']:.3f}")
    from wav2tok_hf.benchmark import format_table

    markdown = [f"# Speech Commands word retrieval ({AUDIO})", ""]
    markdown += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
    markdown += [format_table(rows, title=title), ""]
    if skipped:
        markdown += ["Skipped:", *_common.skipped_lines(skipped), ""]
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    if not args.no_plots:
        apply_threads(args.threads)
        files = [_plots.plot_condition_bars(rows, os.path.join(out, "speech_commands_mrr.png"),
                                            "MRR per query condition — Speech Commands (real speech), unseen speakers",
                                            chance=report["chance_mrr"]),
                 _plots.plot_rank_histograms(rows, os.path.join(out, "speech_commands_ranks.png"),
                                             "Ranks — Speech Commands (real speech), unseen speakers")]
        ids, durations = model.encode(retrieval.queries[0], sampling_rate=SAMPLING_RATE, return_durations=True)
        cfg = model.config
        files.append(_plots.plot_tokens_over_spectrogram(
            retrieval.queries[0], SAMPLING_RATE, ids, durations, os.path.join(out, "speech_commands_tokens.png"),
            f"{name}: {len(ids)} tokens over one query (word {retrieval.query_labels[0]!r}; real speech)",
            n_fft=getattr(cfg, "n_fft", 512), hop_length=getattr(cfg, "hop_length", 160),
            n_mels=getattr(cfg, "n_mels", 64) or 64))
        report["plots"] = [os.path.basename(f) for f in files]
    _common.write_text(os.path.join(out, "speech_commands.md"), "\n".join(markdown))
    _common.write_json(os.path.join(out, "speech_commands.json"), report)
    print("\n".join(markdown))
    print(f"\nwritten to {out} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
