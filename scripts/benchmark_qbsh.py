#!/usr/bin/env python
"""Query-by-humming benchmark in the layout of the wav2tok paper's Tables 1/2.

MRR of vanilla (V), time-stretched (TS) and pitch-shifted (PS) queries, search seconds per query (ranking the whole
database) and inference seconds per query (audio -> tokens/frames), for every wav2tok model (edit distance over its
tokens; with ``--dtw`` also DTW over its frame embeddings, as a separate row) and every baseline.

Corpora (both 8 kHz, both labelled in every table title):

* ``essen`` (default): SYNTHETIC hums of real Essen folk melodies (``prepare_essen``); loaded from ``--corpus-dir``
  when it exists, else built (and saved there when ``--corpus-dir`` is given).
* ``mastmelody``: real singers' pitch/timing re-synthesised with a synthetic timbre (``prepare_mastmelody``,
  ``--source ../shared/data/mastmelody``).

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
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from wav2tok_hf.retrieval.encoders import apply_threads, pin_threads, with_ranking_variants  # noqa: E402
import _plots  # noqa: E402

logger = logging.getLogger("benchmark_qbsh")

DEFAULT_BASELINES = ["vq-logmel-ed", "logmel-dtw", "pitch-notes-ed", "relative-note-dtw", "pitch-contour-dtw",
                     "wav2vec2-o", "wav2vec2-multi"]
SAMPLING_RATE = 8000
AUDIO = {
    "essen": ("Essen folk melodies", "SYNTHETIC audio: simulated hums/singing of real Essen melodies (music21)"),
    "mastmelody": ("MASTmelody", "RE-SYNTHESISED audio: real singers' pitch and timing (MASTmelody f0 tracks), "
                                 "synthetic timbre"),
}
RERANK_FRAMES = ("embeddings", "pitch-contour-dtw")
PROTOCOL_NOTES = {
    "unseen": "unseen songs: test-split queries vs test-split references; no model was trained on these songs",
    "closed-set": "closed-set (the paper's protocol): other renditions of the TRAINING songs vs their references; the "
                  "models were trained on these songs (and these renditions)",
}


def build_parser() -> argparse.ArgumentParser:
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
    parser.add_argument("--rerank", type=int, default=0, metavar="N",
                        help="also tokens-then-re-rank rows (the product path, Wav2TokIndex's re-rank stage): each "
                             "model's normalised weighted edit distance ranking, its best N items re-scored by DTW "
                             "over frames (default 0: no such rows)")
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


def load_corpus(args: argparse.Namespace, parser: argparse.ArgumentParser, model_dirs: list[str]):
    """``(DatasetDict, build settings, loaded_from_cache)``."""
    cached = _common.load_cached_corpus(parser, args.corpus_dir)
    if cached:
        return cached
    trained = {}
    for path in model_dirs:
        data = _common.training_data_section(path)
        if data and data.get("corpus") == args.corpus:
            trained = dict(data.get("build") or {})
            break
    seed = args.corpus_seed if args.corpus_seed is not None else trained.get("seed", args.seed)
    if args.corpus == "essen":
        from wav2tok_hf.data import prepare_essen

        build = {"num_songs": list(args.num_songs or trained.get("num_songs") or (300, 50, 100)),
                 "queries_per_song": args.queries_per_song or trained.get("queries_per_song") or 4, "seed": seed}
        logger.info("building Essen corpus %s", build)
        corpus = prepare_essen(args.corpus_dir, num_songs=tuple(build["num_songs"]),
                               queries_per_song=build["queries_per_song"], seed=seed)
        return corpus, build, False
    from wav2tok_hf.data import prepare_mastmelody

    build = {"seed": seed}
    for key in ("max_melodies", "max_files_per_melody"):
        value = getattr(args, key) if getattr(args, key) is not None else trained.get(key)
        if value is not None:
            build[key] = value
    return _common.build_corpus(
        parser, prepare_mastmelody, args.source, args.corpus_dir, build, label="MASTmelody",
        missing="--corpus mastmelody needs --source (the MASTmelody folder, e.g. ../shared/data/mastmelody)")


def rerank_rows(models: list, sets: dict, shortlist: int, frame_sources: list[str]) -> list[dict]:
    """Tokens-then-re-rank rows (the product path), in ``run_benchmark``'s row format: for every model, a
    ``Wav2TokIndex`` of the database's tokens with frames stored for its re-rank stage; each query is ranked by the
    normalised weighted edit distance and its best ``shortlist`` items are re-scored by DTW over frames (the model's
    own embeddings, or the ``pitch-contour-dtw`` baseline's contour). ``search_s`` is the index search (tokens and
    re-rank DTW) per query; ``infer_s`` encodes the query's tokens and frames. Their own rows: never mixed with the
    tokens-only rows."""
    from wav2tok_hf.retrieval.encoders import baseline_encoder
    from wav2tok_hf.retrieval import create_baseline
    from wav2tok_hf.retrieval.index import Wav2TokIndex
    from wav2tok_hf.retrieval.metrics import mean_reciprocal_rank, top_k_accuracy

    distance = "normalized_weighted_levenshtein"
    first = next(iter(sets.values()))
    ids = [str(i) for i in range(len(first.database))]
    rows = []
    for name, model, _ in models:
        for source in frame_sources:
            frame_encoder = model if source == "embeddings" else create_baseline(source)
            embed = (lambda w, sr: model.embed(w, sampling_rate=sr, batch_size=32)) if source == "embeddings" else \
                baseline_encoder(frame_encoder).encode
            index = Wav2TokIndex.from_encoder(model)
            index.add_audio(model, list(first.database), sampling_rate=first.sampling_rate, ids=ids,
                            labels=list(first.database_labels), store_frames=True, frame_encoder=frame_encoder)
            label = "model embeddings" if source == "embeddings" else source
            row = {"model": f"{name} + re-rank top {shortlist} by DTW ({label})",
                   "distance": f"{distance} -> dtw", "rerank": shortlist, "rerank_frames": source}
            for condition, retrieval in sets.items():
                start = time.perf_counter()
                tokens = model.encode(retrieval.queries, sampling_rate=retrieval.sampling_rate, batch_size=32)
                frames = embed(retrieval.queries, retrieval.sampling_rate)
                infer = (time.perf_counter() - start) / len(retrieval.queries)
                start = time.perf_counter()
                results = index.search(tokens, distance=distance, rerank=shortlist, query_frames=frames)
                search = (time.perf_counter() - start) / len(retrieval.queries)
                ranks = [_rank_after_rerank(result, label) for result, label in zip(results, retrieval.query_labels)]
                row[condition] = mean_reciprocal_rank(ranks)
                row[f"{condition}_top1"] = top_k_accuracy(ranks, 1)
                row[f"{condition}_top5"] = top_k_accuracy(ranks, 5)
                row.setdefault("ranks", {})[condition] = [float(r) for r in ranks]
                if condition == "V":
                    row["search_s"], row["infer_s"] = search, infer
            rows.append(row)
    return rows


def _rank_after_rerank(result, label: str) -> float:
    """Rank of the first item of ``label``: the re-ranked items in DTW order, then the rest by token distance with
    ties at their mean rank (as the tokens-only rows)."""
    import numpy as np

    from wav2tok_hf.retrieval.metrics import rank_of_first_relevant

    position = np.arange(len(result))
    order = np.where(position < result.reranked, position - result.reranked, result.token_scores)
    return rank_of_first_relevant(order, [lab == label for lab in result.labels])


def run_protocol(protocol: str, corpus, encoders: list, skipped: list[dict], args: argparse.Namespace,
                 models: list = ()) -> dict:
    from wav2tok_hf.retrieval.evaluation import PROTOCOL_SPLITS, condition_sets, retrieval_set_from_split, run_benchmark

    split = PROTOCOL_SPLITS[protocol]
    name, audio = AUDIO[args.corpus]
    retrieval = retrieval_set_from_split(corpus[split], SAMPLING_RATE, max_queries=args.max_queries, seed=args.seed,
                                         synthetic=True, name=f"{args.corpus}/{protocol}",
                                         max_references_per_label=args.max_references_per_song,
                                         max_labels=args.max_songs)
    sets = condition_sets(retrieval, seed=args.seed)
    logger.info("%s: %d queries vs %d items", protocol, len(retrieval.queries), len(retrieval.database))
    rows = run_benchmark(encoders, sets, details=True)
    if args.rerank and models:
        rows += rerank_rows(list(models), sets, args.rerank, args.rerank_frames)
    return {"corpus": args.corpus, "corpus_name": name, "synthetic": True, "audio": audio, "protocol": protocol,
            "protocol_note": PROTOCOL_NOTES[protocol], "split": split, **retrieval.sizes(), "rows": rows,
            "skipped": list(skipped), "_retrieval": retrieval}


def block_title(block: dict) -> str:
    trivial = " — ONLY ONE SONG: MRR is trivially 1, use a bigger corpus" if block["num_classes"] < 2 else ""
    return (f"QBSH, {block['corpus_name']} — {block['audio']}{trivial}. Protocol: {block['protocol_note']}. "
            f"{block['num_queries']} queries vs {block['num_database']} database items ({block['num_classes']} songs); "
            f"chance MRR {block['chance_mrr']:.3f}")


def block_markdown(block: dict) -> str:
    from wav2tok_hf.retrieval.evaluation import format_table

    lines = [f"## {block['protocol']}", "", format_table(block["rows"], title=block_title(block)), ""]
    if block["skipped"]:
        lines += ["Skipped:", *_common.skipped_lines(block["skipped"]), ""]
    return "\n".join(lines)


def _public(block: dict) -> dict:
    return {k: v for k, v in block.items() if not k.startswith("_")}


def _write_plots(blocks: list[dict], models: list, prefix: str, out: str) -> list[str]:
    files = []
    for block in blocks:
        stem = os.path.join(out, f"{prefix}_{block['protocol']}")
        title = f"{block['corpus_name']} ({'synthetic' if block['synthetic'] else 'real'} audio), {block['protocol']}"
        files.append(_plots.plot_condition_bars(block["rows"], stem + "_mrr.png", f"MRR per query condition — {title}",
                                                chance=block["chance_mrr"]))
        files.append(_plots.plot_rank_histograms(block["rows"], stem + "_ranks.png", f"Ranks — {title}"))
    first = next((b for b in blocks if b["protocol"] == "unseen"), blocks[0])
    retrieval = first["_retrieval"]
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


def _experiment_name(path: str) -> str | None:
    return _common.training_experiment(path).get("name")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = _common.parse_args(parser, argv)
    _common.check_positive(parser, args.max_references_per_song, "--max-references-per-song")
    if args.rerank < 0:
        parser.error(f"--rerank {args.rerank}: expected the number of items to re-rank (>= 1), or 0 for none")
    _common.check_source(parser, args.source)
    if not args.model and not args.ablation_dir:
        parser.error("pass at least one --model DIR or an --ablation-dir DIR")
    baselines = args.baselines if args.baselines is not None else (DEFAULT_BASELINES if args.model else [])
    _common.check_baselines(parser, baselines)
    ablation_dirs = _ablation_dirs(parser, args.ablation_dir) if args.ablation_dir else []
    models = _common.load_models(parser, args.model)
    ablation_models = _common.load_models(parser, ablation_dirs)

    from wav2tok_hf.retrieval.encoders import model_encoders
    from wav2tok_hf.demo import fit_baselines

    start = time.perf_counter()
    corpus, build, cached = load_corpus(args, parser, args.model + ablation_dirs)
    warnings = [w for w in (_common.build_note(p, args.corpus, build, cached) for p in args.model + ablation_dirs) if w]
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    local, hub = _common.split_baselines(baselines)
    baseline_encoders = fit_baselines(tuple(local), corpus["train"], SAMPLING_RATE, max_fit_clips=args.max_fit_clips,
                                      seed=args.seed) if local else []
    hub_encoders, skipped = _common.hub_baseline_encoders(hub, args.hub_model_id)
    for s in skipped:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    os.makedirs(args.output_dir, exist_ok=True)
    prefix = f"qbsh_{args.corpus}"
    common = {"seed": args.seed, "corpus_build": build, "corpus_from_cache": cached, "warnings": warnings}

    if models:
        encoders = []
        for name, model, _ in models:
            encoders += model_encoders(model, name, args.dtw)
        encoders = with_ranking_variants(encoders + baseline_encoders + hub_encoders)
        pin_threads(encoders, args.threads)
        blocks = [run_protocol(p, corpus, encoders, skipped, args, models) for p in args.protocols]
        main_block = next((b for b in blocks if b["protocol"] == "unseen"), blocks[0])
        report = {**_public(main_block), **common, "models": {n: p for n, _, p in models},
                  "protocols": [_public(b) for b in blocks]}
        markdown = [f"# Query by humming: {AUDIO[args.corpus][0]} ({AUDIO[args.corpus][1]})", ""]
        markdown += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
        markdown += [block_markdown(b) for b in blocks]
        if not args.no_plots:
            apply_threads(args.threads)
            report["plots"] = [os.path.basename(f) for f in _write_plots(blocks, models, prefix, args.output_dir)]
        _common.write_text(os.path.join(args.output_dir, prefix + ".md"), "\n".join(markdown))
        _common.write_json(os.path.join(args.output_dir, prefix + ".json"), report)
        print("\n".join(markdown))

    if ablation_models:
        encoders = []
        for (name, model, path) in ablation_models:
            encoders += model_encoders(model, os.path.basename(os.path.normpath(path)), args.dtw)
        if args.baselines:
            encoders += baseline_encoders + hub_encoders
        encoders = with_ranking_variants(encoders)
        pin_threads(encoders, args.threads)
        block = run_protocol("unseen", corpus, encoders, skipped if args.baselines else [], args)
        for row in block["rows"]:
            path = next((p for _, _, p in ablation_models if os.path.basename(os.path.normpath(p)) == row["model"]), None)
            if path:
                row["config"], row["experiment"] = row["model"], _experiment_name(path)
        report = {**_public(block), **common, "ablation_dir": args.ablation_dir}
        markdown = [f"# Ablation: one row per trained config in {args.ablation_dir}", ""]
        markdown += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
        markdown.append(block_markdown(block))
        _common.write_text(os.path.join(args.output_dir, f"ablation_{args.corpus}.md"), "\n".join(markdown))
        _common.write_json(os.path.join(args.output_dir, f"ablation_{args.corpus}.json"), report)
        if not args.no_plots:
            _plots.plot_condition_bars(block["rows"], os.path.join(args.output_dir, f"ablation_{args.corpus}_mrr.png"),
                                       f"Ablation, {AUDIO[args.corpus][0]} (synthetic audio), unseen songs",
                                       chance=block["chance_mrr"])
        print("\n".join(markdown))
    print(f"\nwritten to {args.output_dir} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
