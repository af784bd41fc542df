"""Tokenise a corpus into a saved :class:`~wav2tok_hf.retrieval.Wav2TokIndex` (``wav2tok index build``) and search
it with an audio query (``wav2tok index search``).

The corpus is a folder of audio files (ids: paths relative to the folder; labels: the parent folder's name) or a 🤗
dataset (a ``save_to_disk`` folder or a Hub id, with ``--split``; labels from ``--label-column``). Tokenisation runs
in chunks of ``chunk_size`` rows with ``datasets.map`` (``num_proc`` processes); each finished chunk is written to
``INDEX_DIR/.build/`` (``.npy`` + JSON, no pickles), so an interrupted build resumes from the first unfinished
chunk. The index (and ``build.json``: the model and the source, used by ``index search``) is saved at the end.

With ``--windows`` every recording is indexed as windows about a word long, each tokenised on its own
(``retrieval.std.window_spans``; ids ``retrieval.std.window_id``, labels the recording's id), and ``index search``
lists the recordings by their best window with its time span: how to find a spoken word in connected speech with a
model whose tokens of a word change with the words around it (docs/RESULTS.md 8a').

Example::

    wav2tok index build checkpoints/wav2tok-qbsh songs/ songs-index --num-proc 2 --store-frames --rerank-pool 4
    wav2tok index search songs-index hum.wav --top-k 5 --rerank 5
    wav2tok index build checkpoints/wav2tok-speech talks/ talks-index --windows
    wav2tok index search talks-index word.wav --top-k 5    # {"id": recording, "start_s", "end_s", "score", ...}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..checks import check_positive_int
from ..saving import write_file_atomic
from .graph import EXPANSION_SEARCH, id_bytes_for
from .index import Wav2TokIndex, _check_max_score, vocabulary_of
from .rerank import check_pool
from .std import best_windows, cut_windows, window_id, window_layout
from .storage import IndexLockedError

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aiff", ".aif")
BUILD_FILE = "build.json"
WORK_DIR = ".build"
WINDOWS_PER_HIT = 50  # a windows search ranks top_k x this many windows, then keeps each recording's best


def _load_corpus(source: str, split: str | None, sampling_rate: int, label_column: str | None,
                 id_column: str | None) -> tuple[Any, str | None, str | None]:
    """``(dataset, id column, label column)`` with an ``audio`` column decoded at ``sampling_rate``."""
    import datasets

    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, "dataset_info.json")) and not \
            os.path.isfile(os.path.join(source, "dataset_dict.json")):
        root = Path(source)
        paths = audio_files(root)
        rel = [str(p.relative_to(root)) for p in paths]
        table = {"audio": [str(p) for p in paths], "id": rel,
                 "label": [str(Path(r).parent) if str(Path(r).parent) != "." else r for r in rel]}
        ds = datasets.Dataset.from_dict(table).cast_column("audio", datasets.Audio(sampling_rate=sampling_rate))
        return ds, "id", "label"
    if os.path.isdir(source):
        ds = datasets.load_from_disk(source)
    else:
        ds = datasets.load_dataset(source, split=split)
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            raise ValueError(f"{source!r} holds splits {sorted(ds)}; choose one with --split")
        ds = ds[split]
    audio_columns = [name for name, feature in ds.features.items() if isinstance(feature, datasets.Audio)]
    if not audio_columns:
        raise ValueError(f"{source!r} has no Audio column (columns: {list(ds.features)})")
    if audio_columns[0] != "audio":
        ds = ds.rename_column(audio_columns[0], "audio")
    ds = ds.cast_column("audio", datasets.Audio(sampling_rate=sampling_rate))
    for name, column in (("--label-column", label_column), ("--id-column", id_column)):
        if column is not None and column not in ds.features:
            raise ValueError(f"{name} {column!r} is not a column of {source!r} (columns: {list(ds.features)})")
    if label_column is None and "label" in ds.features:
        label_column = "label"
    return ds, id_column, label_column


def audio_files(folder: str | os.PathLike, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> list[Path]:
    """The files under ``folder`` (recursively) whose suffix is one of ``suffixes``, sorted by path; an error when
    there are none.

    Example:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "b").mkdir(); (root / "b" / "x.WAV").touch(); (root / "a.flac").touch(); (root / "n.txt").touch()
        >>> [str(p.relative_to(root)) for p in audio_files(root)]
        ['a.flac', 'b/x.WAV']
    """
    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    if not paths:
        raise ValueError(f"no audio files ({', '.join(suffixes)}) under {str(folder)!r}")
    return paths


def _text(ds: Any, column: str | None, start: int, stop: int, default: list[str]) -> list[str]:
    if column is None:
        return default
    import datasets

    values = ds[start:stop][column]
    feature = ds.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return [feature.int2str(int(v)) for v in values]
    return [str(v) for v in values]


def build_index(
    model_path: str,
    source: str,
    index_dir: str,
    split: str | None = None,
    num_proc: int = 1,
    chunk_size: int = 1000,
    batch_size: int = 16,
    store_frames: bool = False,
    label_column: str | None = None,
    id_column: str | None = None,
    overwrite: bool = False,
    graph: bool = False,
    windows: bool = False,
    rerank_pool: int = 1,
    graph_candidates: int | None = None,
) -> Wav2TokIndex:
    """Tokenise ``source`` with the model at ``model_path`` and save the index to ``index_dir`` (see the module
    docstring). Resumes an interrupted build of the same model, source and options. ``graph=True`` also builds
    the graph of :meth:`Wav2TokIndex.build_graph` (approximate fast top-k) and saves it with the index, its searches
    exploring ``graph_candidates`` items (default: the model's ``config.graph_candidates``, else
    :data:`.graph.EXPANSION_SEARCH`; RESULTS 7k-7m);
    ``windows=True`` indexes each recording as windows tokenised on their own (labels: the recording ids);
    ``rerank_pool`` averages every N stored frames into one (``Wav2TokIndex.enable_rerank(pool=N)``)."""
    from tqdm.auto import tqdm

    from .. import Wav2TokModel

    if os.path.isfile(os.path.join(index_dir, "index.json")) and not overwrite:
        raise ValueError(f"{index_dir!r} already holds an index; pass --overwrite to rebuild it")
    if num_proc < 1 or chunk_size < 1 or batch_size < 1:
        raise ValueError("num_proc, chunk_size and batch_size must be positive")
    if windows and store_frames:
        raise ValueError("--windows with --store-frames is not supported: a windows index has no re-rank frames")
    check_pool(rerank_pool, "rerank_pool")
    if graph_candidates is not None:
        if not graph:
            raise ValueError("graph_candidates (--graph-candidates) sets the graph's search width: it needs graph=True "
                             "(--graph)")
        check_positive_int("graph_candidates", graph_candidates)
    if rerank_pool > 1 and not store_frames:
        raise ValueError("--rerank-pool needs --store-frames (it pools the stored re-rank frames)")
    model = Wav2TokModel.from_pretrained(model_path).eval()
    if graph:
        id_bytes_for(model.config.codebook_size)  # refuses a codebook the graph cannot pack, before any work
    ds, id_column, label_column = _load_corpus(source, split, model.config.sampling_rate, label_column, id_column)
    if ds.num_rows == 0:
        raise ValueError(f"{source!r} has no rows to index")
    options = {"model": os.path.abspath(model_path) if os.path.exists(model_path) else model_path,
               "source": os.path.abspath(source) if os.path.exists(source) else source, "split": split,
               "rows": ds.num_rows, "chunk_size": chunk_size, "store_frames": store_frames,
               "label_column": label_column, "id_column": id_column, "vocabulary": vocabulary_of(model).name,
               "windows": window_layout() if windows else None}
    work = _work_folder(index_dir, options)
    chunks = range(0, ds.num_rows, chunk_size)
    for start in tqdm(chunks, desc="tokenising chunks", unit="chunk"):
        _tokenise_chunk(model, ds, work, start, min(start + chunk_size, ds.num_rows), options, batch_size, num_proc)
    index = _assemble(model, work, chunks, store_frames, windowed=windows, rerank_pool=rerank_pool)
    if graph:
        index.build_graph(expansion_search=graph_candidates)  # None: the model's config.graph_candidates
    index.save(index_dir)
    with open(os.path.join(index_dir, BUILD_FILE), "w") as f:
        json.dump({**options, "items": len(index), "skipped_empty": ds.num_rows - len(index)}, f, indent=1)
    shutil.rmtree(work)
    return index


def _work_folder(index_dir: str, options: dict) -> str:
    """``INDEX_DIR/.build`` holding the plan (``options``) and the finished chunks of an interrupted build of the
    same plan; the chunks of another plan are discarded."""
    work = os.path.join(index_dir, WORK_DIR)
    os.makedirs(work, exist_ok=True)
    plan_path = os.path.join(work, "plan.json")
    if os.path.isfile(plan_path):
        with open(plan_path) as f:
            if json.load(f) != options:  # a different build was interrupted here: start over
                shutil.rmtree(work)
                os.makedirs(work)
    with open(plan_path, "w") as f:
        json.dump(options, f)
    return work


def _tokenise_chunk(model: Any, ds: Any, work: str, start: int, stop: int, options: dict, batch_size: int,
                    num_proc: int) -> None:
    """Rows ``start:stop`` as model.encode's strings (with durations, and float16 frames when stored) into
    ``chunk-<start>.json`` (+ ``.npy``), written last so that a chunk counts as done only once complete."""
    done = os.path.join(work, f"chunk-{start:09d}.json")
    if os.path.isfile(done):
        return
    store_frames, rate = options["store_frames"], model.config.sampling_rate

    def tokenise_windows(batch: dict) -> dict:  # per recording: its windows' strings and spans
        tokens, spans = [], []
        for wave in model.feature_extractor.load(batch["audio"]):
            cuts, clips = cut_windows(wave, rate)
            tokens.append(model.encode(clips, sampling_rate=rate, batch_size=batch_size) if clips else [])
            spans.append([list(c) for c in cuts])
        return {"tokens": tokens, "spans": spans}

    def tokenise(batch: dict) -> dict:
        tokens, durations, frames = [], [], []
        for frame_tokens, embeddings in model.frame_outputs(batch["audio"], batch_size=batch_size):
            seq, seconds = model.token_string(frame_tokens)  # the strings model.encode gives (max_token_run)
            tokens.append(seq)
            durations.append(seconds)
            frames.append(embeddings.astype(np.float16).tolist() if store_frames else [])
        return {"tokens": tokens, "durations": durations, "frames": frames}

    part = ds.select(range(start, stop)).map(tokenise_windows if options["windows"] else tokenise, batched=True,
                                             batch_size=batch_size,
                                             num_proc=num_proc if num_proc > 1 and stop - start > 1 else None,
                                             remove_columns=list(ds.features), desc=f"rows {start}-{stop}").to_dict()
    ids = _text(ds, options["id_column"], start, stop, [str(i) for i in range(start, stop)])
    labels = _text(ds, options["label_column"], start, stop, ids)
    if store_frames:
        frames = [np.asarray(f, np.float16) for f in part["frames"]]
        np.save(os.path.join(work, f"frames-{start:09d}.npy"), np.concatenate(frames), allow_pickle=False)
        np.save(os.path.join(work, f"frame-lengths-{start:09d}.npy"), np.array([len(f) for f in frames]),
                allow_pickle=False)
    payload = {"tokens": part["tokens"], "ids": ids, "labels": labels}
    payload.update({"spans": part["spans"]} if options["windows"] else {"durations": part["durations"]})
    write_file_atomic(done, lambda f: f.write(json.dumps(payload).encode("utf-8")))


def _assemble(model: Any, work: str, chunks: range, store_frames: bool, windowed: bool = False,
              rerank_pool: int = 1) -> Wav2TokIndex:
    """The index of every finished chunk, in row order (silent clips, which have no tokens, left out); windowed:
    every recording's windows, labelled by the recording's id."""
    index = Wav2TokIndex.from_encoder(model)
    if store_frames:
        index.enable_rerank(model, pool=rerank_pool)
    for start in chunks:
        with open(os.path.join(work, f"chunk-{start:09d}.json")) as f:
            chunk = json.load(f)
        if windowed:
            rows = [(window_id(rid, s, e), rid, t)
                    for rid, strings, cuts in zip(chunk["ids"], chunk["tokens"], chunk["spans"])
                    for t, (s, e) in zip(strings, cuts) if len(t)]
            if rows:
                index.add([r[2] for r in rows], ids=[r[0] for r in rows], labels=[r[1] for r in rows])
            continue
        frames = None
        if store_frames:
            flat = np.load(os.path.join(work, f"frames-{start:09d}.npy"), allow_pickle=False)
            lengths = np.load(os.path.join(work, f"frame-lengths-{start:09d}.npy"), allow_pickle=False)
            frames = np.split(flat, np.cumsum(lengths)[:-1])
        keep = [k for k, t in enumerate(chunk["tokens"]) if len(t)]
        index.add([chunk["tokens"][k] for k in keep], ids=[chunk["ids"][k] for k in keep],
                  labels=[chunk["labels"][k] for k in keep], durations=[chunk["durations"][k] for k in keep],
                  frames=None if frames is None else [frames[k] for k in keep])
    return index


def search_index(index_dir: str, queries: str | Sequence[str], model_path: str | None = None, top_k: int = 10,
                 distance: str | None = None, rerank: int | None = None,
                 max_score: float | None = None) -> list[dict]:
    """Search a built index with audio files, each ranked on its own: ``queries`` is a file, a folder (its audio
    files, recursively, in path order) or a list of either. The index and the model (by default the one recorded at
    build time) load once for all of them, and every query path is checked before any work. Returns the hits of
    every query in turn, each row with its ``"query"`` path. ``max_score`` keeps only the hits whose token distance
    is at most ``max_score`` (a detection threshold: the range search of ``Wav2TokIndex.search``), at most ``top_k``
    of them per query."""
    from .. import Wav2TokModel

    _check_max_score(max_score)
    record = build_record(index_dir)
    if model_path is None:
        if "model" not in record:
            raise ValueError(f"{index_dir!r} has no {BUILD_FILE} naming its model; pass --model")
        model_path = record["model"]
    paths = query_files(queries)
    windowed = bool(record.get("windows"))
    if windowed and rerank is not None:
        raise ValueError(f"{index_dir!r} holds windows (built with --windows), which have no re-rank frames")
    index = Wav2TokIndex.load(index_dir)
    model = Wav2TokModel.from_pretrained(model_path).eval()
    distance = distance or ("normalized_weighted_levenshtein" if index.substitution_costs is not None
                            else "normalized_levenshtein")
    rows = []
    for path in paths:
        if windowed:
            best = index.search_audio(model, path, distance=distance, top_k=top_k * WINDOWS_PER_HIT,
                                      max_score=max_score)
            hits = best_windows(best)[:top_k]
        else:
            hits = index.search_audio(model, path, distance=distance, top_k=top_k, rerank=rerank,
                                      max_score=max_score).to_list()
        rows += [{"query": path, **hit} for hit in hits]
    return rows


def query_files(queries: str | Sequence[str]) -> list[str]:
    """The audio files named by ``queries`` (a file, a folder of audio files searched recursively, or a list of
    either), in the order given (a folder's files sorted by path); an error naming the first path that is neither.

    Example:
        >>> query_files([])
        Traceback (most recent call last):
        ...
        ValueError: no query given: pass audio files or folders of them
    """
    queries = [queries] if isinstance(queries, (str, os.PathLike)) else list(queries)
    if not queries:
        raise ValueError("no query given: pass audio files or folders of them")
    paths = []
    for query in queries:
        if os.path.isdir(query):
            paths += [str(p) for p in audio_files(query)]
        elif os.path.isfile(query):
            paths.append(str(query))
        else:
            raise FileNotFoundError(f"query audio {str(query)!r} does not exist (expected an audio file or a folder "
                                    f"of them)")
    return paths


def build_record(index_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``build.json`` that :func:`build_index` wrote beside an index (its model, source and options, e.g.
    ``windows``); ``{}`` when there is none or it cannot be read."""
    try:
        with open(os.path.join(index_dir, BUILD_FILE), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _build_command(args: argparse.Namespace) -> int:
    try:
        index = build_index(args.model, args.source, args.index_dir, split=args.split, num_proc=args.num_proc,
                            chunk_size=args.chunk_size, batch_size=args.batch_size, store_frames=args.store_frames,
                            label_column=args.label_column, id_column=args.id_column, overwrite=args.overwrite,
                            graph=args.graph, windows=args.windows, rerank_pool=args.rerank_pool,
                            graph_candidates=args.graph_candidates)
    except IndexLockedError as error:
        raise ValueError(str(error)) from None
    print(json.dumps({"index_dir": args.index_dir, "items": len(index), "classes": len(index._class_names),
                      "rerank_frames": index.rerank is not None}))
    return 0


def _search_command(args: argparse.Namespace) -> int:
    try:
        rows = search_index(args.index_dir, args.queries, model_path=args.model, top_k=args.top_k,
                            distance=args.distance, rerank=args.rerank, max_score=args.max_score)
    except IndexLockedError as error:
        raise ValueError(str(error)) from None
    for row in rows:
        print(json.dumps(row))
    return 0


def add_index_commands(commands: Any) -> None:
    """Register ``wav2tok index build`` and ``wav2tok index search`` on the CLI's subparsers."""
    index = commands.add_parser("index", help="build a searchable index of a corpus, or search one")
    sub = index.add_subparsers(dest="index_command", required=True)
    build = sub.add_parser("build", help="tokenise a folder of audio or a 🤗 dataset into INDEX_DIR (resumable)")
    build.add_argument("model", help="a saved wav2tok model directory or Hub id")
    build.add_argument("source", help="a folder of audio files, a save_to_disk dataset folder, or a Hub dataset id")
    build.add_argument("index_dir", help="where the index is saved")
    build.add_argument("--split", help="dataset split (required when the dataset has several)")
    build.add_argument("--num-proc", type=int, default=1, help="tokenising processes (datasets.map num_proc)")
    build.add_argument("--chunk-size", type=int, default=1000, help="rows per resumable chunk")
    build.add_argument("--batch-size", type=int, default=16, help="clips per forward pass")
    build.add_argument("--store-frames", action="store_true", help="store frame embeddings for --rerank searches")
    build.add_argument("--rerank-pool", type=int, default=1, metavar="N",
                       help="with --store-frames: average every N frames into one (re-rank DTW N^2 times cheaper)")
    build.add_argument("--label-column", help="dataset column with class labels (default: 'label' if present)")
    build.add_argument("--id-column", help="dataset column with item ids (default: the row number)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing index in INDEX_DIR")
    build.add_argument("--graph", action="store_true",
                       help="also build the search graph (APPROXIMATE fast top-k for large indexes; recall measured in "
                            "scripts/bench_scale.py --graph)")
    build.add_argument("--graph-candidates", type=int, metavar="N",
                       help=f"with --graph: items each search explores (default: the model's config.graph_candidates, "
                            f"chosen per release on validation, else {EXPANSION_SEARCH}; docs/RESULTS.md 7k-7m)")
    build.add_argument("--windows", action="store_true",
                       help="index each recording as 0.5-1 s windows tokenised on their own, to find spoken words in "
                            "connected speech; `index search` then lists recordings by their best window")
    build.set_defaults(func=_build_command)
    search = sub.add_parser("search", help="rank the items of INDEX_DIR for each audio query (JSON lines, each "
                                           "with its query's path); the index and model load once for all")
    search.add_argument("index_dir")
    search.add_argument("queries", nargs="+", metavar="query", help="an audio file, or a folder of them")
    search.add_argument("--model", help="the model (default: the one the index was built with)")
    search.add_argument("--top-k", type=int, default=10)
    search.add_argument("--distance", help="token distance (default: normalized_weighted_levenshtein)")
    search.add_argument("--rerank", type=int, help="re-score the top N by DTW over stored frames (needs --store-frames)")
    search.add_argument("--max-score", type=float,
                        help="print only hits whose token distance is at most this (a detection threshold)")
    search.set_defaults(func=_search_command)
