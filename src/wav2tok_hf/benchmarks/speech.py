"""Spoken-word retrieval across speakers, corpora and recording conditions, on REAL speech
(``scripts/benchmark_speech.py``).

Per corpus (:data:`CORPORA`): half of a split's speakers form the database, the other half query it with the same
words (:func:`speech_corpus`); the queries are degraded per condition (V / TS / PS and the users'-recording
conditions of ``wav2tok_hf.data.degrade``; :func:`degraded_sets`); the wav2tok model and the baselines are ranked by
MRR per condition (:func:`run_speech_corpus`). :func:`run_speech_benchmark` runs several corpora and returns the
summary (headline rows and goal checks, :func:`summary_markdown`).

Usage (``corpus`` from ``prepare_speech_commands``; ``model`` a ``Wav2TokModel`` saved in ``model_dir``)::

    data = speech_corpus("speech-commands", corpus, {}, False, model_dir, conditions=("V", "TS", "PS"))
    options = SpeechOptions(baselines=["logmel-dtw"])
    markdown, summary = run_speech_benchmark([data], model, "wav2tok", model_dir, options)

Example:
    >>> report = {"conditions": ["V"], "rows": [
    ...     {"model": "wav2tok", "distance": "normalized_weighted_levenshtein", "V": 0.5},
    ...     {"model": "logmel-dtw", "distance": "dtw", "V": 0.25}]}
    >>> goal_checks(report, "wav2tok")
    ['- V: wav2tok 0.500 vs logmel-dtw 0.250 (gap +0.250; goal > +0.00: met)']
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..retrieval.evaluation import RetrievalSet
from .corpus import BenchmarkCorpus
from .provenance import build_note
from .reranked import rerank_rows

logger = logging.getLogger(__name__)

DEFAULT_BASELINES = ["logmel-dtw", "vq-logmel-ed", "pocketsphinx-phones", "wav2vec2-o", "wav2vec2-multi"]

CORPORA = ("speech-commands", "speechocean-words", "speechocean-telephone", "spoken-words")
BASE_CONDITIONS = ("V", "TS", "PS")
SAMPLING_RATE = 16000
AUDIO = {
    "speech-commands": "REAL speech (Speech Commands v0.02 test-set recordings, CC BY 4.0)",
    "speechocean-words": "REAL speech (speechocean762 read English by non-native children and adults, CC BY 4.0; "
                         "word clips cut from machine forced alignments)",
    "speechocean-telephone": "REAL speech through a SIMULATED telephone channel (speechocean762 word clips, database "
                             "and queries at 8 kHz, 300-3400 Hz, mu-law)",
    "spoken-words": "REAL speech (your own labelled word clips, e.g. a spoken-digits corpus: prepare_spoken_words; "
                    "decoded at 16 kHz)",
}
RECIPES = {"speech-commands": "speech-commands", "speechocean-words": "speechocean762",
           "speechocean-telephone": "speechocean762", "spoken-words": "spoken-words"}
"""The corpus recipe each benchmark corpus is built by (what a model's training data is compared with)."""
PROTOCOL_NOTE = ("speakers of the --split (test: never trained on nor selected on); half of them form the database, the "
                 "other half query it with the same words")


def degraded_sets(retrieval: RetrievalSet, conditions: Sequence[str], seed: int, noise_bank: Any, rir_bank: Any,
                  snr_db: float) -> dict[str, RetrievalSet]:
    """V/TS/PS sets plus one set per users'-recording condition (queries degraded, database clean)."""
    from ..retrieval.evaluation import condition_sets
    from ..data.degrade import degrade

    sets = condition_sets(retrieval, seed=seed, conditions=tuple(c for c in conditions if c in BASE_CONDITIONS))
    options = {"noise": {"noise_bank": noise_bank, "snr_db": snr_db}, "reverb": {"rir_bank": rir_bank}}
    for name in conditions:
        if name not in BASE_CONDITIONS:
            queries = [degrade(name, q, retrieval.sampling_rate, seed=(seed, i), **options.get(name, {}))
                       for i, q in enumerate(retrieval.queries)]
            sets[name] = dataclasses.replace(retrieval, queries=queries, name=f"{retrieval.name}/{name}")
    return {name: sets[name] for name in conditions}


def telephone_set(retrieval: RetrievalSet, seed: int) -> RetrievalSet:
    """Database and queries through the telephone channel (a new microphone and band for the whole corpus)."""
    from ..data.degrade import degrade

    sr = retrieval.sampling_rate
    return dataclasses.replace(
        retrieval, name=f"{retrieval.name}/telephone-corpus",
        queries=[degrade("telephone", q, sr, seed=(seed, 0, i)) for i, q in enumerate(retrieval.queries)],
        database=[degrade("telephone", d, sr, seed=(seed, 1, i)) for i, d in enumerate(retrieval.database)])


class ReusedRowsError(Exception):
    """The run that ``baseline_rows_from`` points at is missing or measured something else."""


@dataclass
class SpeechOptions:
    """How every corpus of a run is measured (the command line's options, less the inputs)."""

    split: str = "test"  # speakers evaluated on: "test" (reporting) or "validation" (model selection)
    seed: int = 0
    baselines: Sequence[str] = ()  # local baselines, fit on the corpus's training split where they learn
    dtw: bool = False  # also DTW over the model's frame embeddings
    key_search: Sequence[float] | None = None  # semitones of a key-search twin of every encoder
    threads: int = 1
    max_fit_clips: int = 200
    snr_db: float = 10.0
    rir_count: int = 16
    rir_rt60: Sequence[float] = (0.2, 0.7)
    baseline_rows_from: str | None = None  # an earlier run's output folder whose baseline rows are copied
    rerank: int = 0  # shortlist of the tokens-then-re-rank row (DTW over the model's frame embeddings; 0: none)
    rerank_pool: int = 1  # average every N re-rank frames into one (Wav2TokIndex.enable_rerank(pool=N))


@dataclass(kw_only=True)
class SpeechCorpus(BenchmarkCorpus):
    """One corpus of a run: its build provenance (:class:`BenchmarkCorpus`), retrieval set (split speakers) and query
    conditions."""

    retrieval: RetrievalSet
    conditions: list[str]


def speech_corpus(key: str, corpus: Any, build: dict[str, Any], from_cache: bool, model_dir: str, *,
                  split: str = "test", conditions: Sequence[str] = BASE_CONDITIONS, max_queries: int | None = None,
                  seed: int = 0) -> SpeechCorpus:
    """The retrieval set of ``corpus[split]`` for corpus ``key`` (through the telephone channel, and V / TS / PS
    only, for ``speechocean-telephone``); ``ValueError`` when the split gives no query or no database item."""
    from ..retrieval.evaluation import retrieval_set_from_split

    warnings = [w for w in [build_note(model_dir, RECIPES[key], build, from_cache)] if w]
    retrieval = retrieval_set_from_split(corpus[split], SAMPLING_RATE, max_queries=max_queries, seed=seed,
                                         synthetic=False, name=f"{key}/{split}")
    conditions = list(conditions)
    if key == "speechocean-telephone":
        retrieval = telephone_set(retrieval, seed)
        conditions = [c for c in conditions if c in BASE_CONDITIONS]
    return SpeechCorpus(key, corpus, build, from_cache, warnings, retrieval=retrieval, conditions=conditions)


def reused_baseline_rows(folder: str, key: str, mine: dict) -> dict:
    """The non-wav2tok rows (and skipped baselines) of ``<folder>/<corpus>.json``, after checking that it measured
    the same thing as ``mine``: split, seed, conditions, query / database counts and chance MRR
    (:class:`ReusedRowsError` otherwise)."""
    path = os.path.join(folder, f"{key.replace('-', '_')}.json")
    if not os.path.isfile(path):
        raise ReusedRowsError(f"--baseline-rows-from: {path} does not exist")
    with open(path, encoding="utf-8") as handle:
        old = json.load(handle)
    theirs = {name: old.get(name, "test" if name == "split" else None) for name in mine}
    same = (lambda a, b: a == b or isinstance(b, float) and abs((a or 0) - b) < 1e-9)  # noqa: E731
    differing = {name: (theirs[name], value) for name, value in mine.items() if not same(theirs[name], value)}
    if differing:
        raise ReusedRowsError(f"--baseline-rows-from {path}: measured something else ({differing}, theirs vs here)")
    rows = [row for row in old["rows"] if not row["model"].startswith("wav2tok[")]
    return {"rows": rows, "skipped": old.get("skipped", []), "from": path}


def _reused(data: SpeechCorpus, options: SpeechOptions) -> dict | None:
    if not options.baseline_rows_from:
        return None
    mine = {"split": options.split, "seed": options.seed, "conditions": data.conditions, **data.retrieval.sizes()}
    return reused_baseline_rows(options.baseline_rows_from, data.key, mine)


def _encoders(data: SpeechCorpus, model: Any, name: str, options: SpeechOptions, hub_encoders: Sequence) -> list:
    """The model (and its frame embeddings with ``dtw``), the local baselines and the Hub ones, each with its
    ranking variants (and key-search twins), torch threads pinned."""
    from ..demo import fit_baselines
    from ..retrieval.encoders import model_encoder, pin_threads, with_key_search, with_ranking_variants

    encoders = [model_encoder(model, name)]
    if options.dtw:
        embeddings = model_encoder(model, name, distance="dtw")
        encoders.append(dataclasses.replace(embeddings, name=f"{name} (frame embeddings)"))
    if options.baselines:
        encoders += fit_baselines(tuple(options.baselines), data.corpus["train"], SAMPLING_RATE,
                                  max_fit_clips=options.max_fit_clips, seed=options.seed)
    encoders = with_ranking_variants(encoders + list(hub_encoders))
    if options.key_search:
        encoders = with_key_search(encoders, tuple(options.key_search))
    return pin_threads(encoders, options.threads)


def run_speech_corpus(data: SpeechCorpus, model: Any, name: str, model_dir: str, options: SpeechOptions, *,
                      hub_encoders: Sequence = (), skipped: Sequence[dict[str, str]] = (), noise_bank: Any = None,
                      rir_bank: Any = None, reused: dict | None = None) -> tuple[dict[str, Any], str]:
    """Rank the model and the baselines on one corpus under every condition: ``(report, markdown)``.

    ``hub_encoders`` are loaded Hub baselines, ``skipped`` the ones that could not be loaded; ``noise_bank`` /
    ``rir_bank`` serve the noise / reverb conditions; ``reused`` (:func:`reused_baseline_rows`) adds an earlier
    run's baseline rows.
    """
    from ..retrieval.evaluation import format_table, run_benchmark

    key, retrieval, conditions = data.key, data.retrieval, data.conditions
    sets = degraded_sets(retrieval, conditions, options.seed, noise_bank, rir_bank, options.snr_db)
    encoders = _encoders(data, model, name, options, hub_encoders)
    logger.info("%s: %d queries x %d database items, conditions %s", key, len(retrieval.queries),
                len(retrieval.database), conditions)
    rows = run_benchmark(encoders, sets, details=True)
    if options.rerank:
        rows += rerank_rows([(name, model, model_dir)], sets, options.rerank, ("embeddings",), options.rerank_pool)
    skipped = list(skipped)
    if reused:
        rows += reused["rows"]
        skipped = skipped + [s for s in reused["skipped"] if s["model"] not in {x["model"] for x in skipped}]
    report = {"corpus": key, "split": options.split, "synthetic": False, "audio": AUDIO[key],
              "protocol": "unseen-speakers", "protocol_note": PROTOCOL_NOTE, "conditions": conditions,
              **retrieval.sizes(), "rows": rows,
              "skipped": skipped, "warnings": data.warnings, "seed": options.seed, "corpus_build": data.build,
              "key_search_semitones": options.key_search, "rerank": options.rerank,
              "rerank_pool": options.rerank_pool if options.rerank else None,
              "baseline_rows_from": reused["from"] if reused else None, "corpus_from_cache": data.from_cache,
              "models": {name: model_dir},
              "snr_db": options.snr_db if "noise" in conditions else None,
              "rir": {"count": options.rir_count, "rt60_s": list(options.rir_rt60)} if "reverb" in conditions else None}
    title = (f"Spoken-word retrieval, {AUDIO[key]}; unseen {options.split} speakers: {report['num_queries']} queries "
             f"vs {report['num_database']} clips of {report['num_classes']} words; chance MRR "
             f"{report['chance_mrr']:.3f}")
    markdown = [f"# {key} word retrieval ({AUDIO[key]})", ""]
    markdown += [f"> WARNING: {w}" for w in data.warnings] + ([""] if data.warnings else [])
    markdown += [format_table(rows, conditions=tuple(conditions), title=title), ""]
    if skipped:
        markdown += ["Skipped:", *[f"- {s['model']}: skipped: {s['reason']}" for s in skipped], ""]
    return report, "\n".join(markdown)


def run_speech_benchmark(corpora: Sequence[SpeechCorpus], model: Any, name: str, model_dir: str,
                         options: SpeechOptions, *, hub_encoders: Sequence = (),
                         skipped: Sequence[dict[str, str]] = (), noise_bank: Any = None, rir_bank: Any = None,
                         on_report: Callable[[SpeechCorpus, dict[str, Any], str], None] | None = None,
                         ) -> tuple[str, dict[str, Any]]:
    """:func:`run_speech_corpus` on each of ``corpora``, handing each ``(corpus, report, markdown)`` to ``on_report``
    as it is done (to write it); returns :func:`summary_markdown` of the reports. The baseline rows of
    ``options.baseline_rows_from`` are checked for every corpus before any is run (:class:`ReusedRowsError`)."""
    reused = {data.key: _reused(data, options) for data in corpora}
    reports = []
    for data in corpora:
        report, markdown = run_speech_corpus(data, model, name, model_dir, options, hub_encoders=hub_encoders,
                                             skipped=skipped, noise_bank=noise_bank, rir_bank=rir_bank,
                                             reused=reused[data.key])
        if on_report is not None:
            on_report(data, report, markdown)
        reports.append(report)
    return summary_markdown(reports, name, options.split)


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
        elif row["model"].startswith(f"{name} + re-rank"):
            picked["wav2tok + re-rank"] = row
        elif row["model"] == f"{name} (frame embeddings)":
            picked["wav2tok embeddings (DTW)"] = row
        elif HEADLINE.get(row["model"]) == row["distance"]:
            picked[row["model"]] = row
        elif row["model"].startswith(("wav2vec2", "hub-ctc")) and row["distance"] == "normalized_levenshtein":
            picked[row["model"]] = row
    return picked


def goal_checks(report: dict, name: str) -> list[str]:
    """The goals of the speech issue, met or not, for one corpus report: wav2tok (and its tokens-then-re-rank row,
    when measured) above the baselines on V, within 0.05 of V under TS / PS, and what tokenising loses against DTW
    over the frame embeddings."""
    rows = headline_rows(report, name)
    lines = []
    for system in ("wav2tok", "wav2tok + re-rank"):
        model = rows.get(system)
        if model is None:
            continue
        for other, margin in (("logmel-dtw", 0.0), ("vq-logmel-ed", 0.10)):
            if other in rows:
                gap = model["V"] - rows[other]["V"]
                verdict = "met" if gap > margin else "NOT met"
                lines.append(f"- V: {system} {model['V']:.3f} vs {other} {rows[other]['V']:.3f} (gap {gap:+.3f}; "
                             f"goal > {margin:+.2f}: {verdict})")
        for condition in (c for c in report["conditions"] if c != "V"):
            drop = model[condition] - model["V"]
            note = f" (goal within 0.05: {'met' if drop >= -0.05 else 'NOT met'})" if condition in ("TS", "PS") else ""
            best = max((r for r in rows.values()), key=lambda r: r.get(condition, -1))
            lines.append(f"- {condition}: {system} {model[condition]:.3f} ({drop:+.3f} from V){note}; best system "
                         f"{best['model']} ({best['distance']}) {best[condition]:.3f}")
    if "wav2tok" in rows and "wav2tok embeddings (DTW)" in rows:
        model, emb = rows["wav2tok"], rows["wav2tok embeddings (DTW)"]
        lines.append(f"- embedding -> token loss (V): DTW over frame embeddings {emb['V']:.3f} -> tokens "
                     f"{model['V']:.3f} ({model['V'] - emb['V']:+.3f})")
    return lines


def summary_markdown(reports: list[dict], name: str, split: str = "test") -> tuple[str, dict]:
    """``(summary.md, summary.json)`` of the corpus reports of one model: headline rows and goal checks."""
    lines = ["# Spoken-word retrieval across corpora and recording conditions (REAL speech)", "",
             "Headline rankings: wav2tok and vq-logmel-ed by normalised codebook-weighted ED, logmel-dtw and the "
             "model's frame embeddings by DTW, pocketsphinx-phones by normalised ED; 'wav2tok + re-rank' (when "
             "measured) is the product path: tokens, then DTW over the model's frame embeddings on the shortlist. "
             f"Queries by {split}-split speakers "
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
