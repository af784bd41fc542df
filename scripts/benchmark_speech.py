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
* ``spoken-words``: a labelled word corpus of your own, e.g. spoken digits recorded at 8 kHz (``--words-source``, a
  folder whose file names hold the word and the speaker, ``<label>_<speaker>_<take>.wav`` by default, or a Hub id;
  ``--words-dir`` caches the build; ``prepare_spoken_words``): the same protocol on its test-split speakers.

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
checks). Corpus file stems: ``speech_commands``, ``speechocean_words``, ``speechocean_telephone``,
``spoken_words``. Everything but
timings is deterministic under ``--seed``.

Usage:
    python scripts/benchmark_speech.py --model checkpoints/wav2tok-speech \
        --source ../shared/data/speech_commands_test_v0.02 --corpus-dir data_cache/speech-commands-35w \
        --ocean-source ../shared/data/speechocean762_train --ocean-dir data_cache/speechocean762 \
        --dtw --max-queries 300 --output-dir results/speech-cross-corpus
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
from wav2tok_hf.benchmarks.speech import (  # noqa: E402
    BASE_CONDITIONS,
    CORPORA,
    DEFAULT_BASELINES,
    SAMPLING_RATE,
    SpeechCorpus,
    SpeechOptions,
)

logger = logging.getLogger("benchmark_speech")


def build_parser() -> argparse.ArgumentParser:
    from wav2tok_hf.data.degrade import QUERY_CONDITIONS
    from wav2tok_hf.data.spoken_words import DIGITS_PATTERN

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
    parser.add_argument("--words-source", help="your own labelled word clips (the spoken-words corpus): a folder "
                        "whose file names match --words-pattern, or a Hub id with audio, label and speaker columns")
    parser.add_argument("--words-dir", help="spoken-words corpus cache: loaded when it exists, else built there")
    parser.add_argument("--words-pattern", default=DIGITS_PATTERN,
                        help="regular expression with named groups 'label' and 'speaker' for the folder's file paths "
                             "(default: <label>_<speaker>_<take>, the Free Spoken Digit Dataset / AudioMNIST names)")
    parser.add_argument("--words-label-column", default="label", help="word column of a Hub spoken-words source")
    parser.add_argument("--words-speaker-column", default="speaker", help="speaker column of a Hub spoken-words source")
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
    _common.add_rerank_arguments(parser)  # the frames are the model's own embeddings
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


def load_spoken_words(args, parser):
    from wav2tok_hf.data import prepare_spoken_words

    build = {"seed": args.corpus_seed if args.corpus_seed is not None else args.seed, "pattern": args.words_pattern,
             "label_column": args.words_label_column, "speaker_column": args.words_speaker_column}
    return _common.load_or_build_corpus(parser, prepare_spoken_words, args.words_source, args.words_dir, build,
                                        label="spoken-words", source_flag="--words-source",
                                        missing="pass --words-source (a folder of word clips or a Hub id) or an "
                                                "existing --words-dir")


def load_corpora(args, parser, corpora: list[str], model_dir: str) -> list[SpeechCorpus]:
    """Each corpus to run, its split's retrieval set built: inputs, so a corpus that cannot be built or a split too
    small for the protocol is a usage error before any benchmark runs."""
    from wav2tok_hf.benchmarks.speech import speech_corpus

    out, ocean = [], None
    for key in corpora:
        if key == "speech-commands":
            corpus, build, cached = load_speech_commands(args, parser)
            hint = "; use more clips (--max-clips) or --include-unknown no"
            where = f"Speech Commands {args.split} split ({len(corpus[args.split])} clips)"
        elif key == "spoken-words":
            corpus, build, cached = load_spoken_words(args, parser)
            hint, where = "", f"spoken-words {args.split} split ({len(corpus[args.split])} clips)"
        else:
            ocean = ocean or load_speechocean(args, parser)  # one build serves both speechocean corpora
            corpus, build, cached = ocean
            hint, where = "", f"speechocean762 {args.split} split ({len(corpus[args.split])} word clips)"
        try:
            out.append(speech_corpus(key, corpus, build, cached, model_dir, split=args.split,
                                     conditions=args.conditions, max_queries=args.max_queries, seed=args.seed))
        except ValueError as error:
            parser.error(f"{where}: {error}{hint}")
        for warning in out[-1].warnings:
            print(f"WARNING [{key}]: {warning}", file=sys.stderr)
    return out


def load_resources(args, parser) -> tuple:
    """``(noise bank, room responses)`` of the noise and reverb conditions (``None`` when not asked for)."""
    from wav2tok_hf.data.degrade import load_noise_bank, room_impulse_responses

    noise, rirs = None, None
    if "noise" in args.conditions:
        try:
            # test: the noise clips training does not use; validation (model selection): the training half
            part = "test" if args.split == "test" else "train"
            noise = load_noise_bank(args.noise_source or args.source, part=part, sampling_rate=SAMPLING_RATE)
        except (FileNotFoundError, NotADirectoryError, ValueError) as error:
            parser.error(f"--noise-source {args.noise_source or args.source!r}: {error}")
    if "reverb" in args.conditions:
        rirs = room_impulse_responses(args.rir_count, SAMPLING_RATE, rt60_s=tuple(args.rir_rt60),
                                      seed=(1000 if args.split == "test" else 2000) + args.seed)
    return noise, rirs


def write_corpus(data: SpeechCorpus, report: dict, markdown: str, *, args, model, name: str) -> None:
    """``<corpus>.md``, ``<corpus>.json`` and (unless --no-plots) the plots of one corpus, then print its table."""
    from wav2tok_hf.retrieval.encoders import apply_threads

    key, retrieval, conditions = data.key, data.retrieval, data.conditions
    stem = key.replace("-", "_")
    out = args.output_dir
    if not args.no_plots:
        apply_threads(args.threads)
        files = [_plots.plot_condition_bars(report["rows"], os.path.join(out, f"{stem}_mrr.png"),
                                            f"MRR per query condition — {key} (real speech), unseen speakers",
                                            conditions=tuple(conditions), chance=report["chance_mrr"]),
                 _plots.plot_rank_histograms(report["rows"], os.path.join(out, f"{stem}_ranks.png"),
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
    _common.write_text(os.path.join(out, f"{stem}.md"), markdown)
    _common.write_json(os.path.join(out, f"{stem}.json"), report)
    print(markdown)


def write_summary_only(parser, args) -> int:
    """summary.md / summary.json from the per-corpus reports already in ``--output-dir`` (corpus order)."""
    import json

    from wav2tok_hf.benchmarks.speech import ReusedRowsError, reused_baseline_rows, summary_markdown

    reports = []
    for key in CORPORA:
        path = os.path.join(args.output_dir, f"{key.replace('-', '_')}.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
            if args.baseline_rows_from and not report.get("baseline_rows_from"):
                mine = {name: report.get(name) for name in ("split", "seed", "conditions", "num_queries",
                                                            "num_database", "num_classes", "chance_mrr")}
                try:
                    reused = reused_baseline_rows(args.baseline_rows_from, key, mine)
                except ReusedRowsError as error:
                    raise SystemExit(str(error)) from None
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
    _common.check_rerank(parser, args)
    _common.check_source(parser, args.source)
    _common.check_source(parser, args.noise_source, "--noise-source")
    _common.check_baselines(parser, args.baselines)
    if args.summary_only:
        return write_summary_only(parser, args)
    corpora = check_run_arguments(parser, args)
    (name, model, model_dir), = _common.load_models(parser, [args.model])
    if model.config.sampling_rate != SAMPLING_RATE:
        logger.warning("model rate %d Hz; the 16 kHz audio is resampled for it", model.config.sampling_rate)
    from wav2tok_hf.benchmarks.speech import ReusedRowsError, run_speech_benchmark

    start = time.perf_counter()
    noise_bank, rir_bank = load_resources(args, parser)
    data = load_corpora(args, parser, corpora, model_dir)
    local, hub = _common.split_baselines(args.baselines)
    hub_encoders, skipped = _common.hub_baseline_encoders(hub, args.hub_model_id)
    for s in skipped:
        print(f"{s['model']}: skipped: {s['reason']}", file=sys.stderr)
    options = SpeechOptions(split=args.split, seed=args.seed, baselines=local, dtw=args.dtw, key_search=args.key_search,
                            threads=args.threads, max_fit_clips=args.max_fit_clips, snr_db=args.snr_db,
                            rir_count=args.rir_count, rir_rt60=args.rir_rt60, baseline_rows_from=args.baseline_rows_from,
                            rerank=args.rerank, rerank_pool=args.rerank_pool)
    os.makedirs(args.output_dir, exist_ok=True)
    try:
        markdown, summary = run_speech_benchmark(
            data, model, name, model_dir, options, hub_encoders=hub_encoders, skipped=skipped, noise_bank=noise_bank,
            rir_bank=rir_bank, on_report=functools.partial(write_corpus, args=args, model=model, name=name))
    except ReusedRowsError as error:
        raise SystemExit(str(error)) from None
    _common.write_text(os.path.join(args.output_dir, "summary.md"), markdown)
    _common.write_json(os.path.join(args.output_dir, "summary.json"), summary)
    print(markdown)
    print(f"\nwritten to {args.output_dir} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def check_run_arguments(parser, args) -> list[str]:
    """The corpora to run; the combinations of options that cannot run are usage errors."""
    from wav2tok_hf.data._io import is_hub_id

    for flag, source in (("--ocean-source", args.ocean_source), ("--words-source", args.words_source)):
        if source and not (os.path.isdir(source) or is_hub_id(source)):
            parser.error(f"{flag} {source!r} is neither a folder nor a Hub dataset id (owner/name)")
    if "V" not in args.conditions:
        parser.error("--conditions must include V (the other columns are compared with it)")
    corpora = args.corpora
    if not corpora:
        corpora = (["speech-commands"] if args.source or args.corpus_dir else []) + (
            ["speechocean-words", "speechocean-telephone"] if args.ocean_source or args.ocean_dir else []) + (
            ["spoken-words"] if args.words_source or args.words_dir else [])
    if not corpora:
        parser.error("nothing to run: pass --source / --corpus-dir (Speech Commands), --ocean-source / --ocean-dir "
                     "(speechocean762) and/or --words-source / --words-dir (your own word clips)")
    if "noise" in args.conditions and not (args.noise_source or args.source):
        parser.error("the noise condition needs real noise: pass --noise-source or --source (a Speech Commands "
                     "folder with '_silence_' clips), or leave 'noise' out of --conditions")
    return corpora

if __name__ == "__main__":
    sys.exit(main())
