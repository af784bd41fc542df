#!/usr/bin/env python
"""Query-by-humming benchmark in the layout of the wav2tok paper's Tables 1/2.

MRR of vanilla (V), time-stretched (TS) and pitch-shifted (PS) queries, search seconds per query (ranking the whole
database) and inference seconds per query (audio -> tokens/frames), for every wav2tok model (edit distance over its
tokens; with ``--dtw`` also DTW over its frame embeddings, as a separate row) and every baseline.

Corpora (both 8 kHz, both labelled in every table title):

* ``essen`` (default): SYNTHETIC hums of real Essen folk melodies (``prepare_essen``); loaded from ``--corpus-dir``
  when it exists, else built (and saved there when ``--corpus-dir`` is given).
* ``mastmelody``: real singers' pitch/timing re-synthesised with a synthetic timbre (``prepare_mastmelody``,
  ``--source ../shared/data/mastmelody``): ours, or with ``--synthesizer mir_eval-<sine|sawtooth|square>`` another
  project's (``mir_eval.sonify.pitch_contour``). A ``--corpus-dir`` rendered with another synthesiser than
  ``--synthesizer`` (default ``wav2tok``) is refused, never silently reused.

Corpus build settings default to those in the (first) model's ``training_config.json`` when it was trained on the
same corpus, so that the test split holds the songs the model never saw; a warning is printed and stored otherwise.

Protocols (``--protocols``):

* ``unseen`` (the main one): queries of the test split against the test split's references; no model or baseline
  was trained on these songs.
* ``closed-set`` (the paper's MIR-QbSH protocol): queries of the training split's songs against their
  references (``--max-songs N`` keeps N of them, e.g. as many as the test split has, for the same database
  size). The models (and the vq-logmel K-means) were trained on these songs, and with labelled pairs on these very
  renditions, so this measures memorisation as much as generalisation.

Hub CTC baselines (``wav2vec2-o``, ``wav2vec2-multi``, ``--hub-model-id ID`` for any Wav2Vec2ForCTC) that cannot be
loaded (no network, no local cache) are listed as "skipped: <reason>", never given numbers. When the Hub is
unreachable, offline mode is switched on so that this fails at once.

Outputs in ``--output-dir``:

* ``qbsh_<corpus>.md``: one table per protocol, skipped baselines and warnings.
* ``qbsh_<corpus>.json``: the ``unseen`` block's fields at top level (or the first protocol run) plus every block in
  ``"protocols"``. A block is ``{"corpus": str, "synthetic": bool, "audio": str, "protocol": str, "protocol_note":
  str, "num_queries": int, "num_database": int, "num_classes": int, "chance_mrr": float, "rows": [{"model",
  "distance", "V", "TS", "PS", "V_top1", ..., "search_s", "infer_s", "ranks": {"V": [...], ...}}], "skipped":
  [{"model", "reason"}]}``; the top level adds ``"warnings"``, ``"seed"``, ``"corpus_build"``, ``"models"``.
* ``qbsh_<corpus>_<protocol>_mrr.png`` (grouped bars per condition), ``qbsh_<corpus>_<protocol>_ranks.png`` (rank
  histograms per system) and ``qbsh_<corpus>_tokens_<model>.png`` (log-mel of one unseen query with the model's
  tokens and token boundaries drawn over it).
* With ``--ablation-dir DIR`` (one trained model folder per config inside it): ``ablation_<corpus>.md`` / ``.json``
  with one row per config on the unseen protocol (same block schema, rows carry ``"config"`` and ``"experiment"``).

Everything but the timings is deterministic under ``--seed``.

Usage:
    python scripts/benchmark_qbsh.py --model wav2tok-qbsh --corpus-dir data_cache/essen-300-50-100 --dtw
    python scripts/benchmark_qbsh.py --model wav2tok-mastmelody --corpus mastmelody --source ../shared/data/mastmelody
    python scripts/benchmark_qbsh.py --ablation-dir runs/ablations --corpus-dir data_cache/essen-300-50-100 \
        --max-queries 200
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import _plots  # noqa: E402
from wav2tok_hf.benchmarks.qbsh import (  # noqa: E402
    AUDIO,
    DEFAULT_BASELINES,
    PROTOCOL_NOTES,
    RERANK_FRAMES,
    QbshResult,
)
from wav2tok_hf.benchmarks.corpus import BenchmarkCorpus  # noqa: E402

logger = logging.getLogger("benchmark_qbsh")


def build_parser() -> argparse.ArgumentParser:
    from wav2tok_hf.data.mastmelody import SYNTHESIZERS

    parser = _common.benchmark_parser(__doc__)
    parser.add_argument("--model", action="append", default=[], metavar="DIR",
                        help="a saved wav2tok model folder (repeat for several models)")
    parser.add_argument("--ablation-dir", metavar="DIR",
                        help="folder of trained model folders, one per config: prints one table, a row per config")
    parser.add_argument("--corpus", choices=sorted(AUDIO), default="essen")
    parser.add_argument("--source", help="MASTmelody folder (required for --corpus mastmelody)")
    parser.add_argument("--corpus-dir", help="corpus cache: loaded when it exists, else built and saved there")
    parser.add_argument("--num-songs", type=int, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="Essen songs per split when building (default: the model's training build, else 300 50 100)")
    parser.add_argument("--queries-per-song", type=int, help="Essen hums per song when building (default 4)")
    parser.add_argument("--max-melodies", type=int, help="MASTmelody: keep this many melodies when building")
    parser.add_argument("--max-files-per-melody", type=int, help="MASTmelody: performances/references per melody")
    parser.add_argument("--synthesizer", choices=SYNTHESIZERS,
                        help="MASTmelody: what renders the pitch tracks: wav2tok (ours, default) or mir_eval.sonify's "
                             "pitch_contour with a sine, sawtooth or square wave (another project's synthesiser)")
    parser.add_argument("--corpus-seed", type=int,
                        help="seed of the corpus build (default: the model's training build seed, else --seed)")
    _common.add_baseline_arguments(
        parser, None, help=f"baselines to compare (default: {' '.join(DEFAULT_BASELINES)}; none in ablation-only "
                           "runs); Hub ones are skipped with a reason when they cannot be loaded")
    parser.add_argument("--max-references-per-song", type=int,
                        help="keep the first N references of each song in the database (e.g. 1 piano take per "
                             "MASTmelody melody; default: all)")
    parser.add_argument("--max-songs", type=int,
                        help="keep a seeded subset of N songs (and their queries) in each protocol, e.g. to compare "
                             "closed-set and unseen at the same database size (default: every song of the split)")
    parser.add_argument("--dtw", action="store_true", help="also DTW over each wav2tok model's frame embeddings")
    _common.add_rerank_arguments(parser)
    parser.add_argument("--rerank-frames", nargs="+", choices=RERANK_FRAMES, default=["embeddings"],
                        help="frames the re-rank DTW compares: the model's own frame 'embeddings' and/or the "
                             "'pitch-contour-dtw' baseline's contour (default: embeddings)")
    parser.add_argument("--protocols", nargs="+", choices=list(PROTOCOL_NOTES), default=["unseen", "closed-set"])
    parser.add_argument("--max-fit-clips", type=int, default=200, help="training clips to fit vq-logmel K-means on")
    _common.add_common_arguments(parser, plots=True)
    return parser


def _ablation_dirs(parser: argparse.ArgumentParser, root: str) -> list[str]:
    if not os.path.isdir(root):
        parser.error(f"--ablation-dir {root!r} is not a folder")
    dirs = sorted(os.path.join(root, d) for d in os.listdir(root)
                  if os.path.isfile(os.path.join(root, d, "config.json")))
    if not dirs:
        parser.error(f"--ablation-dir {root!r} holds no model folders (sub-folders with a config.json)")
    return dirs


def load_corpus(args: argparse.Namespace, parser: argparse.ArgumentParser, model_dirs: list[str]) -> BenchmarkCorpus:
    """The corpus of ``--corpus``: loaded from ``--corpus-dir`` when it exists, else built (with the settings of a
    model in ``model_dirs`` trained on it, where the options leave them)."""
    from wav2tok_hf.benchmarks.qbsh import cached_synthesizer, qbsh_build_settings, qbsh_corpus

    cached = _common.load_cached_corpus(parser, args.corpus_dir)
    if cached and args.corpus == "mastmelody":
        corpus, build, _ = cached
        try:
            synthesizer = cached_synthesizer(corpus, args.synthesizer)
        except ValueError as error:
            parser.error(f"--corpus-dir {args.corpus_dir!r}: {error}; pass --synthesizer to match it, or another "
                         "--corpus-dir")
        if synthesizer != "wav2tok":
            build["synthesizer"] = synthesizer  # in the report's corpus_build and the table titles
    if cached:
        return qbsh_corpus(args.corpus, *cached, model_dirs)
    build = qbsh_build_settings(args.corpus, model_dirs, seed=args.seed, corpus_seed=args.corpus_seed,
                                num_songs=args.num_songs, queries_per_song=args.queries_per_song,
                                max_melodies=args.max_melodies, max_files_per_melody=args.max_files_per_melody,
                                synthesizer=args.synthesizer)
    if args.corpus == "essen":
        from wav2tok_hf.data import prepare_essen

        logger.info("building Essen corpus %s", build)
        corpus = prepare_essen(args.corpus_dir, num_songs=tuple(build["num_songs"]),
                               queries_per_song=build["queries_per_song"], seed=build["seed"])
        return qbsh_corpus(args.corpus, corpus, build, False, model_dirs)
    from wav2tok_hf.data import prepare_mastmelody

    built = _common.build_corpus(
        parser, prepare_mastmelody, args.source, args.corpus_dir, build, label="MASTmelody",
        missing="--corpus mastmelody needs --source (the MASTmelody folder, e.g. ../shared/data/mastmelody)")
    return qbsh_corpus(args.corpus, *built, model_dirs)


def _write_plots(report: dict, retrievals: dict, models: list, prefix: str, out: str) -> list[str]:
    """MRR bars and rank histograms per protocol, and each model's tokens over one unseen (else first) query."""
    blocks = report["protocols"]
    files = []
    for block in blocks:
        stem = os.path.join(out, f"{prefix}_{block['protocol']}")
        title = f"{block['corpus_name']} ({'synthetic' if block['synthetic'] else 'real'} audio), {block['protocol']}"
        files.append(_plots.plot_condition_bars(block["rows"], stem + "_mrr.png", f"MRR per query condition — {title}",
                                                chance=block["chance_mrr"]))
        files.append(_plots.plot_rank_histograms(block["rows"], stem + "_ranks.png", f"Ranks — {title}"))
    first = next((b for b in blocks if b["protocol"] == "unseen"), blocks[0])
    retrieval = retrievals[first["protocol"]]
    for name, model, path in models:
        ids, durations = model.encode(retrieval.queries[0], sampling_rate=retrieval.sampling_rate,
                                      return_durations=True)
        base = os.path.basename(os.path.normpath(path))
        cfg = model.config
        files.append(_plots.plot_tokens_over_spectrogram(
            retrieval.queries[0], retrieval.sampling_rate, ids, durations,
            os.path.join(out, f"{prefix}_tokens_{base}.png"),
            f"{name}: {len(ids)} tokens over one {first['protocol']} query (song {retrieval.query_labels[0]}; "
            f"{'synthetic' if first['synthetic'] else 'real'} audio)",
            n_fft=getattr(cfg, "n_fft", 512), hop_length=getattr(cfg, "hop_length", 128),
            n_mels=getattr(cfg, "n_mels", 64) or 64))
    return files


def write_result(result: QbshResult, args: argparse.Namespace, models: list) -> None:
    """``<stem>.md``, ``<stem>.json`` and (unless --no-plots) the plots of one table in --output-dir; prints it."""
    out, report = args.output_dir, result.report
    if result.kind == "qbsh" and not args.no_plots:
        from wav2tok_hf.retrieval.encoders import apply_threads

        apply_threads(args.threads)
        report["plots"] = [os.path.basename(f) for f in _write_plots(report, result.retrievals, models, result.stem,
                                                                      out)]
    _common.write_text(os.path.join(out, result.stem + ".md"), result.markdown)
    _common.write_json(os.path.join(out, result.stem + ".json"), report)
    if result.kind == "ablation" and not args.no_plots:
        _plots.plot_condition_bars(report["rows"], os.path.join(out, f"{result.stem}_mrr.png"),
                                   f"Ablation, {report['corpus_name']} (synthetic audio), unseen songs",
                                   chance=report["chance_mrr"])
    print(result.markdown)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = _common.parse_args(parser, argv)
    for flag in ("max_references_per_song", "max_songs", "max_fit_clips", "queries_per_song", "max_melodies",
                 "max_files_per_melody"):
        _common.check_positive(parser, getattr(args, flag), "--" + flag.replace("_", "-"))
    _common.check_rerank(parser, args)
    _common.check_source(parser, args.source)
    if not args.model and not args.ablation_dir:
        parser.error("pass at least one --model DIR or an --ablation-dir DIR")
    baselines = args.baselines if args.baselines is not None else (DEFAULT_BASELINES if args.model else [])
    _common.check_baselines(parser, baselines)
    ablation_dirs = _ablation_dirs(parser, args.ablation_dir) if args.ablation_dir else []
    models = _common.load_models(parser, args.model)
    ablation_models = _common.load_models(parser, ablation_dirs)
    from wav2tok_hf.benchmarks.qbsh import QbshOptions, run_qbsh_benchmark

    start = time.perf_counter()
    data = load_corpus(args, parser, args.model + ablation_dirs)
    for warning in data.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    local, hub = _common.split_baselines(baselines)
    hub_encoders, skipped = _common.hub_baseline_encoders(hub, args.hub_model_id)
    for s in skipped:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    options = QbshOptions(protocols=args.protocols, seed=args.seed, max_queries=args.max_queries,
                          max_references_per_song=args.max_references_per_song, max_songs=args.max_songs,
                          dtw=args.dtw, rerank=args.rerank, rerank_frames=args.rerank_frames,
                          rerank_pool=args.rerank_pool, threads=args.threads,
                          max_fit_clips=args.max_fit_clips, ablation_baselines=bool(args.baselines))
    os.makedirs(args.output_dir, exist_ok=True)
    run_qbsh_benchmark(data, models, options, ablation_models=ablation_models, ablation_dir=args.ablation_dir,
                       baselines=local, hub_encoders=hub_encoders, skipped=skipped,
                       on_result=functools.partial(write_result, args=args, models=models))
    print(f"\nwritten to {args.output_dir} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
