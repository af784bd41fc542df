"""Query-by-humming benchmark in the layout of the wav2tok paper's Tables 1/2 (``scripts/benchmark_qbsh.py``).

Per protocol (:data:`PROTOCOL_NOTES`: ``unseen`` test-split songs, or the ``closed-set`` training songs) the queries
of the split are searched against its references under the V / TS / PS conditions (:func:`run_protocol`), for
every wav2tok model (its tokens, with ``dtw`` its frame embeddings too, and with ``rerank`` the product path:
tokens then a DTW re-rank of the shortlist, :func:`~wav2tok_hf.benchmarks.reranked.rerank_rows`) and every baseline. :func:`run_qbsh_benchmark`
runs the protocols for the models, and the unseen protocol for an ablation folder's models (one row per config),
and returns one :class:`QbshResult` (report and markdown) per table.

Usage (``corpus`` from ``prepare_essen``; ``models`` as ``[(row name, Wav2TokModel, folder)]``)::

    data = qbsh_corpus("essen", corpus, build, False, [folder for _, _, folder in models])
    results = run_qbsh_benchmark(data, models, QbshOptions(dtw=True), baselines=["pitch-notes-ed"])
    print(results[0].markdown)

Example:
    >>> qbsh_build_settings("essen", [], seed=0)  # no model trained on Essen: the default build
    {'num_songs': [300, 50, 100], 'queries_per_song': 4, 'seed': 0}
    >>> qbsh_build_settings("mastmelody", [], seed=3, max_melodies=10)
    {'seed': 3, 'max_melodies': 10}
    >>> qbsh_build_settings("mastmelody", [], synthesizer="mir_eval-sine")  # another project's synthesiser
    {'seed': 0, 'synthesizer': 'mir_eval-sine'}
    >>> qbsh_build_settings("mastmelody", [], synthesizer="wav2tok")  # the default: the build settings of old
    {'seed': 0}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..retrieval.evaluation import RetrievalSet
from .corpus import BenchmarkCorpus
from .provenance import build_note, training_data_section, training_experiment
from .reranked import rerank_rows

logger = logging.getLogger(__name__)

DEFAULT_BASELINES = ["vq-logmel-ed", "logmel-dtw", "pitch-notes-ed", "relative-note-dtw", "pitch-contour-dtw",
                     "wav2vec2-o", "wav2vec2-multi"]
SAMPLING_RATE = 8000
AUDIO = {
    "essen": ("Essen folk melodies", "SYNTHETIC audio: simulated hums/singing of real Essen melodies (music21)"),
    "mastmelody": ("MASTmelody", ("RE-SYNTHESISED audio: real singers' pitch and timing (MASTmelody f0 tracks), "
                                  "synthetic timbre")),
}
RERANK_FRAMES = ("embeddings", "pitch-contour-dtw")
PROTOCOL_NOTES = {
    "unseen": "unseen songs: test-split queries vs test-split references; no model was trained on these songs",
    "closed-set": "closed-set (the paper's protocol): other renditions of the TRAINING songs vs their references; the "
                  "models were trained on these songs (and these renditions)",
}
ESSEN_BUILD = {"num_songs": (300, 50, 100), "queries_per_song": 4}  # when neither the options nor a model say


@dataclass
class QbshOptions:
    """How a run measures (the command line's options, less the inputs)."""

    protocols: Sequence[str] = ("unseen", "closed-set")
    seed: int = 0
    max_queries: int | None = None
    max_references_per_song: int | None = None  # keep the first N references of each song in the database
    max_songs: int | None = None  # a seeded subset of N songs (and their queries) per protocol
    dtw: bool = False  # also DTW over each model's frame embeddings
    rerank: int = 0  # shortlist of the tokens-then-re-rank rows (0: no such rows)
    rerank_frames: Sequence[str] = ("embeddings",)  # frames the re-rank DTW compares (RERANK_FRAMES)
    rerank_pool: int = 1  # average every N re-rank frames into one (Wav2TokIndex.enable_rerank(pool=N))
    threads: int = 1
    max_fit_clips: int = 200  # training clips the learning baselines (vq-logmel K-means) are fit on
    ablation_baselines: bool = False  # also rank the baselines in the ablation table


@dataclass
class QbshResult:
    """One table of a run: ``kind`` "qbsh" (the models, every protocol) or "ablation" (one row per config)."""

    kind: str
    stem: str  # output file stem: qbsh_<corpus> / ablation_<corpus>
    report: dict[str, Any]
    markdown: str
    retrievals: dict[str, RetrievalSet]  # protocol -> the retrieval set it searched (for plots)


def qbsh_build_settings(key: str, model_dirs: Sequence[str], *, seed: int = 0, corpus_seed: int | None = None,
                        num_songs: Sequence[int] | None = None, queries_per_song: int | None = None,
                        max_melodies: int | None = None, max_files_per_melody: int | None = None,
                        synthesizer: str | None = None) -> dict[str, Any]:
    """The build settings of corpus ``key``: each one given here, else the first of ``model_dirs`` trained on the
    same corpus (so that the test split holds the songs it never saw), else the default. MASTmelody's
    ``synthesizer`` (the audio, not the splits) is never taken from a model, and is left out when it is the default
    ``"wav2tok"``, so that default builds keep their settings."""
    trained: dict[str, Any] = {}
    for path in model_dirs:
        data = training_data_section(path)
        if data and data.get("corpus") == key:
            trained = dict(data.get("build") or {})
            break
    seed = corpus_seed if corpus_seed is not None else trained.get("seed", seed)
    if key == "essen":
        return {"num_songs": list(num_songs or trained.get("num_songs") or ESSEN_BUILD["num_songs"]),
                "queries_per_song": queries_per_song or trained.get("queries_per_song")
                or ESSEN_BUILD["queries_per_song"], "seed": seed}
    build: dict[str, Any] = {"seed": seed}
    for name, value in (("max_melodies", max_melodies), ("max_files_per_melody", max_files_per_melody)):
        value = value if value is not None else trained.get(name)
        if value is not None:
            build[name] = value
    if synthesizer not in (None, "wav2tok"):
        build["synthesizer"] = synthesizer
    return build


def cached_synthesizer(corpus: Any, synthesizer: str | None = None) -> str:
    """The synthesiser a saved MASTmelody ``corpus`` was rendered with (the ``mir_eval-*`` name its ``timbre`` column
    holds, else ``"wav2tok"``); a ``ValueError`` when it is not ``synthesizer`` (``None``: ``"wav2tok"``), so that a
    cached corpus is never silently reused for another synthesiser.

    Example:
        >>> from datasets import Dataset, DatasetDict
        >>> corpus = DatasetDict(test=Dataset.from_dict({"timbre": ["mir_eval-sine", "mir_eval-sine"]}))
        >>> cached_synthesizer(corpus, "mir_eval-sine")
        'mir_eval-sine'
        >>> cached_synthesizer(corpus)
        Traceback (most recent call last):
        ValueError: the cached MASTmelody corpus was rendered with synthesizer 'mir_eval-sine', not 'wav2tok'
    """
    from ..data.mastmelody import SYNTHESIZERS

    timbres = {t for split in corpus.values() if "timbre" in split.column_names for t in split.unique("timbre")}
    found = next((name for name in SYNTHESIZERS if name in timbres), "wav2tok")
    if found != (synthesizer or "wav2tok"):
        raise ValueError(f"the cached MASTmelody corpus was rendered with synthesizer {found!r}, not "
                         f"{synthesizer or 'wav2tok'!r}")
    return found


def qbsh_corpus(key: str, corpus: Any, build: dict[str, Any], from_cache: bool,
                model_dirs: Sequence[str]) -> BenchmarkCorpus:
    """The corpus of a run (``essen`` or ``mastmelody``), warned about for every model trained on the same corpus
    with other build settings (but the synthesiser: it changes the audio, not which songs the test split holds)."""
    splits = {name: value for name, value in build.items() if name != "synthesizer"}
    warnings = [w for w in (build_note(path, key, splits, from_cache) for path in model_dirs) if w]
    return BenchmarkCorpus(key, corpus, build, from_cache, warnings)


def corpus_labels(data: BenchmarkCorpus) -> tuple[str, str, str]:
    """The corpus's report key, name and audio description (:data:`AUDIO`); a MASTmelody build rendered by another
    synthesiser than ours names it in the key (its own table in a model card) and the description.

    Example:
        >>> data = BenchmarkCorpus("mastmelody", None, {"seed": 0, "synthesizer": "mir_eval-sine"}, True, [])
        >>> key, name, audio = corpus_labels(data)
        >>> key, name, audio.endswith("(mir_eval-sine)")
        ('mastmelody (mir_eval-sine)', 'MASTmelody', True)
        >>> corpus_labels(BenchmarkCorpus("mastmelody", None, {"seed": 0}, True, []))[0]
        'mastmelody'
    """
    name, audio = AUDIO[data.key]
    synthesizer = data.build.get("synthesizer")
    if not synthesizer:
        return data.key, name, audio
    return f"{data.key} ({synthesizer})", name, f"{audio} ({synthesizer})"


def run_protocol(protocol: str, data: BenchmarkCorpus, encoders: Sequence, options: QbshOptions,
                 skipped: Sequence[dict[str, str]] = (),
                 models: Sequence[tuple[str, Any, str]] = ()) -> tuple[dict[str, Any], RetrievalSet]:
    """Rank ``encoders`` (and, with ``options.rerank``, ``models``' re-rank rows) on one protocol: ``(block,
    retrieval set searched)``; the block holds the rows and the corpus, protocol and size fields of the report."""
    from ..retrieval.evaluation import PROTOCOL_SPLITS, condition_sets, retrieval_set_from_split, run_benchmark

    split = PROTOCOL_SPLITS[protocol]
    key, name, audio = corpus_labels(data)
    retrieval = retrieval_set_from_split(data.corpus[split], SAMPLING_RATE, max_queries=options.max_queries,
                                         seed=options.seed, synthetic=True, name=f"{data.key}/{protocol}",
                                         max_references_per_label=options.max_references_per_song,
                                         max_labels=options.max_songs)
    sets = condition_sets(retrieval, seed=options.seed)
    logger.info("%s: %d queries vs %d items", protocol, len(retrieval.queries), len(retrieval.database))
    rows = run_benchmark(list(encoders), sets, details=True)
    if options.rerank and models:
        rows += rerank_rows(models, sets, options.rerank, options.rerank_frames, options.rerank_pool)
    block = {"corpus": key, "corpus_name": name, "synthetic": True, "audio": audio, "protocol": protocol,
             "protocol_note": PROTOCOL_NOTES[protocol], "split": split, **retrieval.sizes(), "rows": rows,
             "skipped": list(skipped)}
    return block, retrieval


def block_title(block: dict[str, Any]) -> str:
    """The title line of a protocol's table: corpus, audio, protocol and sizes."""
    trivial = " — ONLY ONE SONG: MRR is trivially 1, use a bigger corpus" if block["num_classes"] < 2 else ""
    return (f"QBSH, {block['corpus_name']} — {block['audio']}{trivial}. Protocol: {block['protocol_note']}. "
            f"{block['num_queries']} queries vs {block['num_database']} database items ({block['num_classes']} songs); "
            f"chance MRR {block['chance_mrr']:.3f}")


def block_markdown(block: dict[str, Any]) -> str:
    """A protocol's section: its table and the baselines skipped."""
    from ..retrieval.evaluation import format_table

    lines = [f"## {block['protocol']}", "", format_table(block["rows"], title=block_title(block)), ""]
    if block["skipped"]:
        lines += ["Skipped:", *[f"- {s['model']}: skipped: {s['reason']}" for s in block["skipped"]], ""]
    return "\n".join(lines)


def _markdown(heading: str, warnings: Sequence[str], blocks: Sequence[dict[str, Any]]) -> str:
    lines = [heading, ""]
    lines += [f"> WARNING: {w}" for w in warnings] + ([""] if warnings else [])
    return "\n".join(lines + [block_markdown(b) for b in blocks])


def _ranked(encoders: list, threads: int) -> list:
    """Each encoder with its ranking variants, torch threads pinned."""
    from ..retrieval.encoders import pin_threads, with_ranking_variants

    encoders = with_ranking_variants(encoders)
    pin_threads(encoders, threads)
    return encoders


def _models_result(data: BenchmarkCorpus, models: Sequence[tuple[str, Any, str]], options: QbshOptions,
                   baselines: list, skipped: Sequence[dict[str, str]], common: dict[str, Any]) -> QbshResult:
    """Every protocol for the models and the baselines: the report's top level is the unseen block (else the first)."""
    from ..retrieval.encoders import model_encoders

    encoders = []
    for name, model, _ in models:
        encoders += model_encoders(model, name, options.dtw)
    encoders = _ranked(encoders + baselines, options.threads)
    runs = [run_protocol(p, data, encoders, options, skipped, models) for p in options.protocols]
    blocks = [block for block, _ in runs]
    main_block = next((b for b in blocks if b["protocol"] == "unseen"), blocks[0])
    report = {**main_block, **common, "models": {n: p for n, _, p in models}, "protocols": blocks}
    _, name, audio = corpus_labels(data)
    markdown = _markdown(f"# Query by humming: {name} ({audio})", data.warnings, blocks)
    return QbshResult("qbsh", f"qbsh_{data.key}", report, markdown,
                      {block["protocol"]: retrieval for block, retrieval in runs})


def _ablation_result(data: BenchmarkCorpus, models: Sequence[tuple[str, Any, str]], options: QbshOptions,
                     baselines: list, skipped: Sequence[dict[str, str]], common: dict[str, Any],
                     ablation_dir: str | None) -> QbshResult:
    """The unseen protocol with a row per model, named by its folder (``config``) and its ``experiment``."""
    from ..retrieval.encoders import model_encoders

    configs = {os.path.basename(os.path.normpath(path)): path for _, _, path in models}
    encoders = []
    for _, model, path in models:
        encoders += model_encoders(model, os.path.basename(os.path.normpath(path)), options.dtw)
    if options.ablation_baselines:
        encoders += baselines
    block, retrieval = run_protocol("unseen", data, _ranked(encoders, options.threads), options,
                                    skipped if options.ablation_baselines else [])
    for row in block["rows"]:
        if row["model"] in configs:
            row["config"], row["experiment"] = row["model"], training_experiment(configs[row["model"]]).get("name")
    report = {**block, **common, "ablation_dir": ablation_dir}
    markdown = _markdown(f"# Ablation: one row per trained config in {ablation_dir}", data.warnings, [block])
    return QbshResult("ablation", f"ablation_{data.key}", report, markdown, {"unseen": retrieval})


def run_qbsh_benchmark(data: BenchmarkCorpus, models: Sequence[tuple[str, Any, str]], options: QbshOptions, *,
                       ablation_models: Sequence[tuple[str, Any, str]] = (), ablation_dir: str | None = None,
                       baselines: Sequence[str] = (), hub_encoders: Sequence = (),
                       skipped: Sequence[dict[str, str]] = (),
                       on_result: Callable[[QbshResult], None] | None = None) -> list[QbshResult]:
    """Rank the models and the baselines on ``data``: one :class:`QbshResult` per table, each handed to
    ``on_result`` as it is done (to write it).

    Args:
        models: ``(row name, model, folder)`` of the models compared on every protocol of ``options.protocols``
            (table "qbsh"; none: no such table).
        ablation_models: the models of ``ablation_dir``, one row per folder on the unseen protocol (table
            "ablation"), with the baselines only when ``options.ablation_baselines``.
        baselines: registered local baselines, fit once on the corpus's training split where they learn;
            ``hub_encoders``: Hub baselines already loaded; ``skipped``: ``{"model", "reason"}`` of those that
            could not be loaded.

    Report: the block fields (``corpus``, ``protocol``, ``num_queries``, ..., ``rows``, ``skipped``) plus ``seed``,
    ``corpus_build``, ``corpus_from_cache``, ``warnings`` and ``models`` with ``protocols`` (every block), or
    ``ablation_dir``.
    """
    from ..demo import fit_baselines

    fitted = fit_baselines(tuple(baselines), data.corpus["train"], SAMPLING_RATE, max_fit_clips=options.max_fit_clips,
                           seed=options.seed) if baselines else []
    baseline_encoders = fitted + list(hub_encoders)
    common = {"seed": options.seed, "corpus_build": data.build, "corpus_from_cache": data.from_cache,
              "warnings": data.warnings}
    results = []
    if models:
        results.append(_models_result(data, models, options, baseline_encoders, skipped, common))
        if on_result is not None:
            on_result(results[-1])
    if ablation_models:
        results.append(_ablation_result(data, ablation_models, options, baseline_encoders, skipped, common,
                                        ablation_dir))
        if on_result is not None:
            on_result(results[-1])
    return results
