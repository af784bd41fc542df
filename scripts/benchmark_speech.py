#!/usr/bin/env python
"""Spoken-word retrieval across speakers, corpora and recording conditions (REAL speech).

Corpora (``--corpora``; each needs its source):

* ``speech-commands``: the test split of ``prepare_speech_commands`` (``--source``; speakers no model was trained
  on): half of the test speakers form the database, the other half query it with the same words.
* ``speechocean-words``: word clips cut from the forced alignments of speechocean762's test-split speakers
  (``--ocean-source`` / ``--ocean-dir``; read English by non-native children and adults): the same protocol, so a
  query is a word said by a speaker who is not in the database.
* ``speechocean-telephone``: the same words with BOTH the database and the queries passed through the telephone
  channel (8 kHz, 300-3400 Hz, mu-law): a corpus recorded through a microphone and band never seen in training.

Query conditions (``--conditions``; one column each): vanilla (V), time-stretched (TS), pitch-shifted (PS), and the
users'-recording conditions of ``wav2tok_hf.data.degrade``: ``telephone``, ``noise`` (real Speech Commands
``_silence_`` noise at 10 dB SNR, the half of the clips that training does not use), ``reverb`` (simulated rooms,
RT60 0.2-0.7 s, a bank seeded apart from training's), ``eq`` (microphone colouring), ``gain`` and ``dc``. Only the
queries are degraded (the database is clean); ``speechocean-telephone`` runs V / TS / PS only.

Systems: the wav2tok model (ED over tokens, with length-normalised and codebook-weighted twins; ``--dtw`` adds DTW
over its frame embeddings, which measures what tokenising loses), ``logmel-dtw``, ``vq-logmel-ed`` (K-means fit on
the corpus's training split), ``pocketsphinx-phones`` (PocketSphinx's US-English phone recogniser, ED) and the Hub
CTC baselines ``wav2vec2-o`` / ``wav2vec2-multi`` (+ ``--hub-model-id``, a Hub id or a local checkpoint folder),
reported as "skipped: <reason>" when they cannot be loaded, never given numbers.

Outputs in ``--output-dir``, per corpus ``<corpus>.md``, ``<corpus>.json`` (``{"corpus", "synthetic": false,
"audio", "protocol", "conditions", "num_queries", "num_database", "num_classes", "chance_mrr", "rows": [{"model",
"distance", "V", "TS", "PS", "telephone", ..., "V_top1", ..., "search_s", "infer_s", "ranks"}], "skipped",
"warnings", "seed", "corpus_build"}``), ``<corpus>_mrr.png``, ``<corpus>_ranks.png`` (``speech_commands_tokens.png``
for Speech Commands) and ``summary.md`` / ``summary.json`` (the headline rows of every corpus and the issue's goal
checks). Corpus file stems: ``speech_commands``, ``speechocean_words``, ``speechocean_telephone``. Everything but
timings is deterministic under ``--seed``.

Usage:
    python scripts/benchmark_speech.py --model checkpoints/wav2tok-speech \
        --source ../shared/data/speech_commands_test_v0.02 --corpus-dir data_cache/speech-commands-35w \
        --ocean-source ../shared/data/speechocean762_train --ocean-dir data_cache/speechocean762 \
        --dtw --max-queries 300 --output-dir results/speech-cross-corpus
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from wav2tok_hf.retrieval.encoders import apply_threads, pin_threads, with_key_search, with_ranking_variants  # noqa: E402
import _plots  # noqa: E402

logger = logging.getLogger("benchmark_speech")
DEFAULT_BASELINES = ["logmel-dtw", "vq-logmel-ed", "pocketsphinx-phones", "wav2vec2-o", "wav2vec2-multi"]
CORPORA = ("speech-commands", "speechocean-words", "speechocean-telephone")
BASE_CONDITIONS = ("V", "TS", "PS")
SAMPLING_RATE = 16000
AUDIO = {
    "speech-commands": "REAL speech (Speech Commands v0.02 test-set recordings, CC BY 4.0)",
    "speechocean-words": "REAL speech (speechocean762 read English by non-native children and adults, CC BY 4.0; "
                         "word clips cut from machine forced alignments)",
    "speechocean-telephone": "REAL speech through a SIMULATED telephone channel (speechocean762 word clips, database "
                             "and queries at 8 kHz, 300-3400 Hz, mu-law)",
}
PROTOCOL_NOTE = ("speakers of the --split (test: never trained on nor selected on); half of them form the database, the "
                 "other half query it with the same words")


def build_parser() -> argparse.ArgumentParser:
    from wav2tok_hf.data.degrade import QUERY_CONDITIONS

    parser = _common.benchmark_parser(__doc__)
    parser.add_argument("--model", required=True, metavar="DIR", help="a saved wav2tok model folder")
    parser.add_argument("--source", help="Speech Commands folder (e.g. ../shared/data/speech_commands_test_v0.02)")
    parser.add_argument("--corpus-dir", help="Speech Commands corpus cache: loaded when it exists, else built there")
    parser.add_argument("--max-clips", type=int, help="build Speech Commands from a seeded subset of this many clips")
    parser.add_argument("--include-unknown", choices=["yes", "no"],
                        help="keep the 25 non-keyword words (default: as the model was trained, else yes)")
    parser.add_argument("--corpus-seed", type=int, help="seed of the corpus builds (default: the model's, else --seed)")
    parser.add_argument("--ocean-source", help="speechocean762 folder (../shared/data/speechocean762_train) or Hub id")
    parser.add_argument("--ocean-dir", help="speechocean762 corpus cache: loaded when it exists, else built there")
    parser.add_argument("--ocean-alignments", help="word-time TSV for a Hub speechocean762 source")
    parser.add_argument("--ocean-max-speakers", type=int, help="build speechocean762 from N seeded speakers")
    parser.add_argument("--corpora", nargs="+", choices=CORPORA,
                        help="corpora to run (default: every corpus whose source is given)")
    parser.add_argument("--conditions", nargs="+", default=[*BASE_CONDITIONS, *QUERY_CONDITIONS],
                        choices=[*BASE_CONDITIONS, *QUERY_CONDITIONS],
                        help="query conditions, one column each (default: all)")
    parser.add_argument("--noise-source", help="Speech Commands folder whose '_silence_' clips are the noise "
                                               "(default: --source)")
    parser.add_argument("--snr-db", type=float, default=10.0, help="SNR of the noise condition (default 10)")
    parser.add_argument("--rir-count", type=int, default=16, help="simulated rooms of the reverb condition (default 16)")
    parser.add_argument("--rir-rt60", type=float, nargs=2, default=(0.2, 0.7), metavar=("MIN", "MAX"),
                        help="reverberation time range in seconds (default 0.2 0.7)")
    _common.add_baseline_arguments(parser, DEFAULT_BASELINES)
    parser.add_argument("--dtw", action="store_true", help="also DTW over the wav2tok frame embeddings")
    parser.add_argument("--key-search", nargs="+", type=float, metavar="SEMITONES",
                        help="also rank every encoder with a key search: each query at these pitch shifts "
                             "(e.g. -4 -2 0 2 4), each database item by its best distance")
    parser.add_argument("--split", choices=["test", "validation"], default="test",
                        help="speakers to evaluate on: test (reporting) or validation (model selection; default test)")
    parser.add_argument("--baseline-rows-from", metavar="DIR",
                        help="copy the baseline rows of an earlier run's output folder (same corpora, split, seed, "
                             "queries and conditions: checked) instead of recomputing them; pass --baselines with no "
                             "names to run the model only")
    parser.add_argument("--summary-only", action="store_true",
                        help="only (re)write summary.md / summary.json from the <corpus>.json files already in "
                             "--output-dir (e.g. after running the corpora as separate processes); with "
                             "--baseline-rows-from, first add that run's baseline rows to each report")
    parser.add_argument("--max-fit-clips", type=int, default=200, help="training clips to fit vq-logmel K-means on")
    _common.add_common_arguments(parser, plots=True)
    return parser


# ---------------------------------------------------------------------- corpora
def load_speech_commands(args, parser):
    from wav2tok_hf.data import prepare_speech_commands

    data = _common.training_data_section(args.model) or {}
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
    return _common.load_or_build_corpus(parser, prepare_speech_commands, args.source, args.corpus_dir, build,
                                        label="Speech Commands",
                                        missing="pass --source (the Speech Commands folder) or an existing "
                                                "--corpus-dir")


def load_speechocean(args, parser):
    from wav2tok_hf.data import prepare_speechocean762

    build = {"seed": args.corpus_seed if args.corpus_seed is not None else args.seed}
    if args.ocean_max_speakers is not None:
        build["max_speakers"] = args.ocean_max_speakers
    if args.ocean_alignments:
        build["alignments"] = args.ocean_alignments
    return _common.load_or_build_corpus(parser, prepare_speechocean762, args.ocean_source, args.ocean_dir, build,
                                        label="speechocean762", source_flag="--ocean-source",
                                        missing="pass --ocean-source (the speechocean762 folder or Hub id) or an "
                                                "existing --ocean-dir")


def degraded_sets(retrieval, conditions, seed, noise_bank, rir_bank, snr_db):
    """V/TS/PS sets plus one set per users'-recording condition (queries degraded, database clean)."""
    from wav2tok_hf.retrieval.evaluation import condition_sets
    from wav2tok_hf.data.degrade import degrade

    sets = condition_sets(retrieval, seed=seed, conditions=tuple(c for c in conditions if c in BASE_CONDITIONS))
    options = {"noise": {"noise_bank": noise_bank, "snr_db": snr_db}, "reverb": {"rir_bank": rir_bank}}
    for name in conditions:
        if name not in BASE_CONDITIONS:
            queries = [degrade(name, q, retrieval.sampling_rate, seed=(seed, i), **options.get(name, {}))
                       for i, q in enumerate(retrieval.queries)]
            sets[name] = dataclasses.replace(retrieval, queries=queries, name=f"{retrieval.name}/{name}")
    return {name: sets[name] for name in conditions}


def telephone_set(retrieval, seed):
    """Database and queries through the telephone channel (a new microphone and band for the whole corpus)."""
    from wav2tok_hf.data.degrade import degrade

    sr = retrieval.sampling_rate
    return dataclasses.replace(
        retrieval, name=f"{retrieval.name}/telephone-corpus",
        queries=[degrade("telephone", q, sr, seed=(seed, 0, i)) for i, q in enumerate(retrieval.queries)],
        database=[degrade("telephone", d, sr, seed=(seed, 1, i)) for i, d in enumerate(retrieval.database)])


# ---------------------------------------------------------------------- one corpus
def run_corpus(key, corpus, build, cached, args, model, name, model_dir, resources):
    from wav2tok_hf.retrieval.encoders import model_encoder
    from wav2tok_hf.retrieval.evaluation import format_table, retrieval_set_from_split, run_benchmark
    from wav2tok_hf.demo import fit_baselines

    recipe = "speech-commands" if key == "speech-commands" else "speechocean762"
    warnings = [w for w in [_common.build_note(model_dir, recipe, build, cached)] if w]
    for warning in warnings:
        print(f"WARNING [{key}]: {warning}", file=sys.stderr)
    retrieval = retrieval_set_from_split(corpus[args.split], SAMPLING_RATE, max_queries=args.max_queries,
                                         seed=args.seed, synthetic=False, name=f"{key}/{args.split}")
    conditions = list(args.conditions)
    if key == "speechocean-telephone":
        retrieval = telephone_set(retrieval, args.seed)
        conditions = [c for c in conditions if c in BASE_CONDITIONS]
    sets = degraded_sets(retrieval, conditions, args.seed, resources.get("noise"), resources.get("rirs"), args.snr_db)
    local, hub = _common.split_baselines(args.baselines)
    encoders = [model_encoder(model, name)]
    if args.dtw:
        embeddings = model_encoder(model, name, distance="dtw")
        encoders.append(dataclasses.replace(embeddings, name=f"{name} (frame embeddings)"))
    if local:
        encoders += fit_baselines(tuple(local), corpus["train"], SAMPLING_RATE, max_fit_clips=args.max_fit_clips,
                                  seed=args.seed)
    hub_encoders, skipped = resources["hub"]
    encoders = with_ranking_variants(encoders + hub_encoders)
    if args.key_search:
        encoders = with_key_search(encoders, tuple(args.key_search))
    encoders = pin_threads(encoders, args.threads)
    logger.info("%s: %d queries x %d database items, conditions %s", key, len(retrieval.queries),
                len(retrieval.database), conditions)
    rows = run_benchmark(encoders, sets, details=True)
    reused = None
    if args.baseline_rows_from:
        mine = {"split": args.split, "seed": args.seed, "conditions": conditions, **retrieval.sizes()}
        reused = reused_baseline_rows(args.baseline_rows_from, key, mine)
    if reused:
        rows += reused["rows"]
        skipped = skipped + [s for s in reused["skipped"] if s["model"] not in {x["model"] for x in skipped}]
    report = {"corpus": key, "split": args.split, "synthetic": False, "audio": AUDIO[key],
              "protocol": "unseen-speakers", "protocol_note": PROTOCOL_NOTE, "conditions": conditions,
              **retrieval.sizes(), "rows": rows,
              "skipped": skipped, "warnings": warnings, "seed": args.seed, "corpus_build": build,
              "key_search_semitones": args.key_search,
              "baseline_rows_from": reused["from"] if reused else None, "corpus_from_cache": cached,
              "models": {name: model_dir},
              "snr_db": args.snr_db if "noise" in conditions else None,
              "rir": {"count": args.rir_count, "rt60_s": list(args.rir_rt60)} if "reverb" in conditions else None}
    title = (f"Spoken-word retrieval, {AUDIO[key]}; unseen {args.split} speakers: {report['num_queries']} queries vs "
             f"{report['num_database']} clips of {report['num_classes']} words; chance MRR {report['chance_mrr']:.3f}")
    markdown = [f"# {key} word retrieval ({AUDIO[key]})", ""]
    markdown += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
    markdown += [format_table(rows, conditions=tuple(conditions), title=title), ""]
    if skipped:
        markdown += ["Skipped:", *_common.skipped_lines(skipped), ""]
    stem = key.replace("-", "_")
    out = args.output_dir
    if not args.no_plots:
        apply_threads(args.threads)
        files = [_plots.plot_condition_bars(rows, os.path.join(out, f"{stem}_mrr.png"),
                                            f"MRR per query condition — {key} (real speech), unseen speakers",
                                            conditions=tuple(conditions), chance=report["chance_mrr"]),
                 _plots.plot_rank_histograms(rows, os.path.join(out, f"{stem}_ranks.png"),
                                             f"Ranks — {key} (real speech), unseen speakers",
                                             conditions=tuple(c for c in conditions if c in BASE_CONDITIONS))]
        if key == "speech-commands":
            ids, durations = model.encode(retrieval.queries[0], sampling_rate=SAMPLING_RATE, return_durations=True)
            cfg = model.config
            files.append(_plots.plot_tokens_over_spectrogram(
                retrieval.queries[0], SAMPLING_RATE, ids, durations, os.path.join(out, f"{stem}_tokens.png"),
                f"{name}: {len(ids)} tokens over one query (word {retrieval.query_labels[0]!r}; real speech)",
                n_fft=getattr(cfg, "n_fft", 512), hop_length=getattr(cfg, "hop_length", 160),
                n_mels=getattr(cfg, "n_mels", 64) or 64))
        report["plots"] = [os.path.basename(f) for f in files]
    _common.write_text(os.path.join(out, f"{stem}.md"), "\n".join(markdown))
    _common.write_json(os.path.join(out, f"{stem}.json"), report)
    print("\n".join(markdown))
    return report


def reused_baseline_rows(folder: str, key: str, mine: dict) -> dict:
    """The non-wav2tok rows (and skipped baselines) of ``<folder>/<corpus>.json``, after checking that it measured
    the same thing as ``mine``: split, seed, conditions, query / database counts and chance MRR."""
    import json

    path = os.path.join(folder, f"{key.replace('-', '_')}.json")
    if not os.path.isfile(path):
        raise SystemExit(f"--baseline-rows-from: {path} does not exist")
    with open(path, encoding="utf-8") as handle:
        old = json.load(handle)
    theirs = {name: old.get(name, "test" if name == "split" else None) for name in mine}
    same = (lambda a, b: a == b or isinstance(b, float) and abs((a or 0) - b) < 1e-9)  # noqa: E731
    differing = {name: (theirs[name], value) for name, value in mine.items() if not same(theirs[name], value)}
    if differing:
        raise SystemExit(f"--baseline-rows-from {path}: measured something else ({differing}, theirs vs here)")
    rows = [row for row in old["rows"] if not row["model"].startswith("wav2tok[")]
    return {"rows": rows, "skipped": old.get("skipped", []), "from": path}


# ---------------------------------------------------------------------- summary and goal checks
HEADLINE = {"wav2tok": "normalized_weighted_levenshtein", "logmel-dtw": "dtw",
            "vq-logmel-ed": "normalized_weighted_levenshtein", "pocketsphinx-phones": "normalized_levenshtein"}


def headline_rows(report: dict, name: str) -> dict[str, dict]:
    """The row each system is compared by: wav2tok and vq-logmel-ed by normalised weighted ED, logmel-dtw by DTW,
    phone baselines by normalised ED, the model's frame embeddings by DTW (no key search rows)."""
    picked = {}
    for row in report["rows"]:
        if "key search" in row["model"]:
            continue
        if row["model"] == name and row["distance"] == HEADLINE["wav2tok"]:
            picked["wav2tok"] = row
        elif row["model"] == f"{name} (frame embeddings)":
            picked["wav2tok embeddings (DTW)"] = row
        elif HEADLINE.get(row["model"]) == row["distance"]:
            picked[row["model"]] = row
        elif row["model"].startswith(("wav2vec2", "hub-ctc")) and row["distance"] == "normalized_levenshtein":
            picked[row["model"]] = row
    return picked


def goal_checks(report: dict, name: str) -> list[str]:
    rows = headline_rows(report, name)
    model = rows.get("wav2tok")
    if model is None:
        return []
    lines = []
    for other, margin in (("logmel-dtw", 0.0), ("vq-logmel-ed", 0.10)):
        if other in rows:
            gap = model["V"] - rows[other]["V"]
            verdict = "met" if gap > margin else "NOT met"
            lines.append(f"- V: wav2tok {model['V']:.3f} vs {other} {rows[other]['V']:.3f} (gap {gap:+.3f}; goal > "
                         f"{margin:+.2f}: {verdict})")
    for condition in (c for c in report["conditions"] if c != "V"):
        drop = model[condition] - model["V"]
        note = f" (goal within 0.05: {'met' if drop >= -0.05 else 'NOT met'})" if condition in ("TS", "PS") else ""
        best = max((r for r in rows.values()), key=lambda r: r.get(condition, -1))
        lines.append(f"- {condition}: wav2tok {model[condition]:.3f} ({drop:+.3f} from V){note}; best system "
                     f"{best['model']} ({best['distance']}) {best[condition]:.3f}")
    if "wav2tok embeddings (DTW)" in rows:
        emb = rows["wav2tok embeddings (DTW)"]
        lines.append(f"- embedding -> token loss (V): DTW over frame embeddings {emb['V']:.3f} -> tokens "
                     f"{model['V']:.3f} ({model['V'] - emb['V']:+.3f})")
    return lines


def summary_markdown(reports: list[dict], name: str, split: str = "test") -> tuple[str, dict]:
    lines = ["# Spoken-word retrieval across corpora and recording conditions (REAL speech)", "",
             "Headline rankings: wav2tok and vq-logmel-ed by normalised codebook-weighted ED, logmel-dtw and the "
             f"model's frame embeddings by DTW, pocketsphinx-phones by normalised ED. Queries by {split}-split speakers "
             "absent from the database; conditions degrade the queries only (speechocean-telephone: the whole "
             "corpus).", ""]
    data = {"model": name, "split": split, "corpora": []}
    for report in reports:
        conditions = report["conditions"]
        rows = headline_rows(report, name)
        lines += [f"## {report['corpus']}: {report['num_queries']} queries vs {report['num_database']} clips of "
                  f"{report['num_classes']} words (chance MRR {report['chance_mrr']:.3f})", "",
                  "| system | " + " | ".join(conditions) + " |", "|---|" + "---|" * len(conditions)]
        for label, row in rows.items():
            lines.append(f"| {label} | " + " | ".join(f"{row[c]:.3f}" for c in conditions) + " |")
        lines += [f"| {s['model']} | " + " | ".join("skipped" for _ in conditions) + " |" for s in report["skipped"]]
        checks = goal_checks(report, name)
        lines += ["", *checks, ""]
        data["corpora"].append({"corpus": report["corpus"], "conditions": conditions,
                                "num_queries": report["num_queries"], "chance_mrr": report["chance_mrr"],
                                "rows": {label: {c: row[c] for c in conditions} for label, row in rows.items()},
                                "goal_checks": checks})
    return "\n".join(lines), data


def write_summary_only(parser, args) -> int:
    """summary.md / summary.json from the per-corpus reports already in ``--output-dir`` (corpus order)."""
    import json

    reports = []
    for key in CORPORA:
        path = os.path.join(args.output_dir, f"{key.replace('-', '_')}.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
            if args.baseline_rows_from and not report.get("baseline_rows_from"):
                mine = {name: report.get(name) for name in ("split", "seed", "conditions", "num_queries",
                                                            "num_database", "num_classes", "chance_mrr")}
                reused = reused_baseline_rows(args.baseline_rows_from, key, mine)
                report["rows"] += reused["rows"]
                report["skipped"] += [s for s in reused["skipped"] if s not in report["skipped"]]
                report["baseline_rows_from"] = reused["from"]
                _common.write_json(path, report)
            reports.append(report)
    if not reports:
        parser.error(f"--summary-only: no <corpus>.json report in {args.output_dir!r}")
    names = {name for report in reports for name in report.get("models", {})}
    if len(names) != 1 or len({r.get("split", "test") for r in reports}) != 1:
        parser.error(f"--summary-only: the reports in {args.output_dir!r} mix models {sorted(names)} or splits")
    markdown, data = summary_markdown(reports, names.pop(), reports[0].get("split", "test"))
    _common.write_text(os.path.join(args.output_dir, "summary.md"), markdown)
    _common.write_json(os.path.join(args.output_dir, "summary.json"), data)
    print(markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = _common.parse_args(parser, argv)
    _common.check_positive(parser, args.rir_count, "--rir-count")
    _common.check_source(parser, args.source)
    _common.check_source(parser, args.noise_source, "--noise-source")
    _common.check_baselines(parser, args.baselines)
    if args.summary_only:
        return write_summary_only(parser, args)
    from wav2tok_hf.data._io import is_hub_id

    if args.ocean_source and not (os.path.isdir(args.ocean_source) or is_hub_id(args.ocean_source)):
        parser.error(f"--ocean-source {args.ocean_source!r} is neither a folder nor a Hub dataset id (owner/name)")
    if "V" not in args.conditions:
        parser.error("--conditions must include V (the other columns are compared with it)")
    corpora = args.corpora
    if not corpora:
        corpora = (["speech-commands"] if args.source or args.corpus_dir else []) + (
            list(CORPORA[1:]) if args.ocean_source or args.ocean_dir else [])
    if not corpora:
        parser.error("nothing to run: pass --source / --corpus-dir (Speech Commands) and/or --ocean-source / "
                     "--ocean-dir (speechocean762)")
    noise_source = args.noise_source or args.source
    if "noise" in args.conditions and not noise_source:
        parser.error("the noise condition needs real noise: pass --noise-source or --source (a Speech Commands "
                     "folder with '_silence_' clips), or leave 'noise' out of --conditions")
    (name, model, model_dir), = _common.load_models(parser, [args.model])
    if model.config.sampling_rate != SAMPLING_RATE:
        logger.warning("model rate %d Hz; the 16 kHz audio is resampled for it", model.config.sampling_rate)

    from wav2tok_hf.data.degrade import load_noise_bank, room_impulse_responses

    start = time.perf_counter()
    resources = {}
    if "noise" in args.conditions:
        try:
            # test: the noise clips training does not use; validation (model selection): the training half
            part = "test" if args.split == "test" else "train"
            resources["noise"] = load_noise_bank(noise_source, part=part, sampling_rate=SAMPLING_RATE)
        except (FileNotFoundError, NotADirectoryError, ValueError) as error:
            parser.error(f"--noise-source {noise_source!r}: {error}")
    if "reverb" in args.conditions:
        resources["rirs"] = room_impulse_responses(args.rir_count, SAMPLING_RATE, rt60_s=tuple(args.rir_rt60),
                                                   seed=(1000 if args.split == "test" else 2000) + args.seed)
    _, hub = _common.split_baselines(args.baselines)
    resources["hub"] = _common.hub_baseline_encoders(hub, args.hub_model_id)
    for s in resources["hub"][1]:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    os.makedirs(args.output_dir, exist_ok=True)
    reports = []
    if "speech-commands" in corpora:
        corpus, build, cached = load_speech_commands(args, parser)
        try:
            reports.append(run_corpus("speech-commands", corpus, build, cached, args, model, name, model_dir,
                                      resources))
        except ValueError as error:
            parser.error(f"Speech Commands {args.split} split ({len(corpus[args.split])} clips): {error}; use more clips "
                         "(--max-clips) or --include-unknown no")
    ocean = [c for c in corpora if c.startswith("speechocean")]
    if ocean:
        corpus, build, cached = load_speechocean(args, parser)
        for key in ocean:
            try:
                reports.append(run_corpus(key, corpus, build, cached, args, model, name, model_dir, resources))
            except ValueError as error:
                parser.error(f"speechocean762 {args.split} split ({len(corpus[args.split])} word clips): {error}")
    markdown, data = summary_markdown(reports, name, args.split)
    _common.write_text(os.path.join(args.output_dir, "summary.md"), markdown)
    _common.write_json(os.path.join(args.output_dir, "summary.json"), data)
    print(markdown)
    print(f"\nwritten to {args.output_dir} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
