"""Saving and opening a :class:`~wav2tok_hf.retrieval.Wav2TokIndex` folder (format version 2).

Layout: ``index.json`` (format marker and version, vocabulary, metric, substitution costs, item count, and for each
array its file, dtype, shape and SHA-256) beside one ``.npy`` file per array: flat tokens / frames and offsets,
ids, class codes and names, optional per-token durations, optional re-rank frames (float16), the bigram inverted
index of the fast search, and an optional graph (usearch's saved bytes, its keys and the arrays its searches walk).
``.npy`` files are opened memory-mapped (``np.load(mmap_mode="r", allow_pickle=False)``): opening a million-item
index reads the JSON and maps the arrays, it does not build a Python object per item.

Safety:

* Every save writes new array files under a fresh generation suffix, then replaces ``index.json`` atomically
  (temporary file + ``os.replace``), then removes the previous generation: a crash at any point leaves the previous
  index (or the new one) complete and loadable. Readers that mapped the old files keep them (POSIX unlink semantics).
* A save holds an exclusive ``fcntl`` lock on ``.lock``; an open while a save is running raises a clear error
  instead of reading a half-written folder.
* Opening checks the shape and size of every file (a truncated file is refused by name), the offsets and the token
  range; ``verify=True`` also checks each file's SHA-256. No pickle anywhere.
* Format version 1 folders (``index.json`` holding the tokens, ``frames-<sha>.safetensors``) still load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves stay atomic, concurrent opens are not detected
    fcntl = None

from ..checks import positive_int
from ..saving import write_file_atomic
from .qgram import QGramIndex
from .rerank import RerankStore

INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
FORMAT_NAME = "wav2tok-index"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_ARRAY_FILE = re.compile(r"^[a-z_]+-[0-9a-f]{12}\.npy$")


class IndexLockedError(RuntimeError):
    """The index folder is being written by another process."""


@contextlib.contextmanager
def folder_lock(directory: str, exclusive: bool):
    """Hold the folder's ``.lock``: exclusive for a save, shared for an open; raise :class:`IndexLockedError` at
    once if the other kind is held (one writer or many readers)."""
    path = os.path.join(directory, LOCK_FILE)
    try:
        if fcntl is None:
            raise OSError("no fcntl")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # read-only folder (nobody can be saving into it through us), or no fcntl
        yield
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"the index in {directory!r} is being {'read or ' if exclusive else ''}written by another process; "
                "retry when it has finished (nothing was changed)") from None
        yield
    finally:
        os.close(fd)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_array(directory: str, name: str, generation: str, array: np.ndarray) -> dict[str, Any]:
    filename = f"{name}-{generation}.npy"
    path = os.path.join(directory, filename)
    write_file_atomic(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))
    return {"file": filename, "dtype": array.dtype.str, "shape": list(array.shape), "sha256": _sha256(path)}


def _write_json(path: str, payload: dict) -> None:
    write_file_atomic(path, lambda f: f.write(json.dumps(payload).encode("utf-8")))


def _text_array(values: np.ndarray) -> np.ndarray:
    """Strings as a fixed-width unicode array (``.npy`` without pickles)."""
    return np.asarray(values.tolist() if values.dtype == object else values, dtype=str)


def save_index(index: Any, directory: str | os.PathLike) -> None:
    """Write ``index`` to ``directory`` (see the module docstring); the previous save there stays intact on error."""
    from dataclasses import asdict

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    flat, offsets = index._flat()
    arrays: dict[str, np.ndarray] = {
        "data": flat, "offsets": offsets, "ids": _text_array(index._ids), "codes": index._codes.astype(np.int32),
        "class_names": _text_array(index._class_names),
    }
    if index._durations is not None:
        arrays["durations"] = index._durations
    if index.rerank is not None:
        arrays["rerank_frames"], arrays["rerank_offsets"] = index.rerank.flat()
    if index.kind == "tokens" and len(index):
        grams = index._qgrams()
        arrays["qgram_indptr"], arrays["qgram_postings"] = grams.indptr, grams.postings
    if index._graph is not None:
        index._sync_graph()
        arrays["graph"], arrays["graph_keys"] = index._graph.to_bytes(), index._graph_keys
        walk = index._graph.layout(saved=arrays["graph"])._asdict()
        arrays.update({f"graph_walk_{name}": array for name, array in walk.items()})
    with folder_lock(directory, exclusive=True):
        generation = secrets.token_hex(6)
        files = {name: _write_array(directory, name, generation, array) for name, array in arrays.items()}
        payload = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "vocabulary": asdict(index.vocabulary),
            "metric": index.metric,
            "frame_rate": index.frame_rate,
            "substitution_costs": None if index.substitution_costs is None else index.substitution_costs.tolist(),
            "num_items": len(index),
            "rerank": None if index.rerank is None else {"vocabulary": asdict(index.rerank.vocabulary),
                                                         "metric": index.rerank.metric, "pool": index.rerank.pool},
            "arrays": files,
            "graph_candidates": index.graph_candidates,
            "graph": None if index._graph is None else {"expansion_search": index._graph.expansion_search,
                                                         "next_key": index._graph_next_key,
                                                         "id_bytes": index._graph.id_bytes},
        }
        _write_json(os.path.join(directory, INDEX_FILE), payload)
        keep = {entry["file"] for entry in files.values()}
        for name in os.listdir(directory):  # earlier generations (and version 1 frame files), no longer referenced
            stale = (_ARRAY_FILE.match(name) and name not in keep) or (
                name.startswith("frames-") and name.endswith(".safetensors"))
            if stale:
                os.unlink(os.path.join(directory, name))


def _corrupted(path: str, reason: str) -> ValueError:
    return ValueError(f"{path} is not a valid wav2tok index ({reason}); re-create it with Wav2TokIndex.save")


def load_index(cls: type, vocabulary_type: type, directory: str | os.PathLike, mmap: bool = True,
               verify: bool = False) -> Any:
    """Open an index folder written by :func:`save_index` (or a format version 1 folder) as a ``cls``
    (``Wav2TokIndex``) whose vocabularies are ``vocabulary_type`` (``Vocabulary``)."""
    directory = os.fspath(directory)
    path = os.path.join(directory, INDEX_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {INDEX_FILE} in {directory!r}; save an index there with Wav2TokIndex.save")
    with folder_lock(directory, exclusive=False):
        try:
            with open(path, encoding="utf-8") as f:
                payload = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _corrupted(path, f"unreadable JSON: {error}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
            raise _corrupted(path, "missing the wav2tok-index format marker")
        version = payload.get("format_version")
        if version not in READABLE_VERSIONS:
            raise _corrupted(path, f"format_version {version!r}; this library reads versions {READABLE_VERSIONS}: "
                                   "upgrade wav2tok-hf to open it")
        try:
            if version == 1:
                return _load_v1(cls, vocabulary_type, directory, payload)
            return _load_v2(cls, vocabulary_type, directory, payload, mmap, verify)
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise _corrupted(path, f"{type(error).__name__}: {error}") from None


def _open_array(directory: str, entry: dict, mmap: bool, verify: bool) -> np.ndarray:
    filename = os.path.basename(entry["file"])
    file_path = os.path.join(directory, filename)
    if not os.path.isfile(file_path):
        raise FileNotFoundError(f"{filename} is missing (the folder changed while opening, or was copied "
                                "incompletely)")
    if verify and _sha256(file_path) != entry["sha256"]:
        raise ValueError(f"{filename} does not match the checksum recorded in {INDEX_FILE}")
    try:
        array = np.load(file_path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"{filename} is truncated or damaged ({error})") from None
    if list(array.shape) != list(entry["shape"]) or array.dtype.str != entry["dtype"]:
        raise ValueError(f"{filename} holds {array.dtype.str} {list(array.shape)}, {INDEX_FILE} records "
                         f"{entry['dtype']} {entry['shape']}")
    return array


def _load_v2(cls: type, Vocabulary: type, directory: str, payload: dict, mmap: bool, verify: bool) -> Any:  # noqa: N803
    index = cls(Vocabulary(**payload["vocabulary"]), metric=payload["metric"], frame_rate=payload["frame_rate"],
                substitution_costs=payload.get("substitution_costs"))
    arrays = {name: _open_array(directory, entry, mmap, verify) for name, entry in payload["arrays"].items()}
    data, offsets, n = arrays["data"], np.asarray(arrays["offsets"]), int(payload["num_items"])
    if offsets.ndim != 1 or len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(data) or (
            np.diff(offsets) <= 0).any():
        raise ValueError("inconsistent offsets: every item needs at least one token / frame")
    if index.kind == "tokens" and len(data) and (int(data.min()) < 0 or int(data.max()) >= index.vocabulary.size):
        raise ValueError(f"token ids outside the vocabulary of size {index.vocabulary.size}")
    if index.kind == "frames" and (data.ndim != 2 or data.shape[1] != index.vocabulary.size):
        raise ValueError(f"frames of shape {data.shape} for frame dimension {index.vocabulary.size}")
    codes, class_names, ids = arrays["codes"], arrays["class_names"], arrays["ids"]
    if len(ids) != n or len(codes) != n or (n and (int(codes.min()) < 0 or int(codes.max()) >= len(class_names))):
        raise ValueError("ids / class codes do not match the items")
    index._data, index._offsets, index._ids = data, offsets, ids
    width = payload.get("graph_candidates")  # absent from files written before it
    if width is not None and not positive_int(width):
        raise ValueError(f"graph_candidates={width!r} in {INDEX_FILE}; expected null or a positive number of items")
    index.graph_candidates = width
    index._codes, index._class_names = np.asarray(codes, np.int64), class_names
    index._id_set_cache = index._class_codes_cache = None
    if "durations" in arrays:
        if len(arrays["durations"]) != len(data):
            raise ValueError("durations do not match the tokens")
        index._durations = arrays["durations"]
    if payload.get("rerank"):
        frames, frame_offsets = arrays["rerank_frames"], np.asarray(arrays["rerank_offsets"])
        if len(frame_offsets) != n + 1 or frame_offsets[-1] != len(frames):
            raise ValueError("re-rank frames do not match the items")
        index.rerank = RerankStore(Vocabulary(**payload["rerank"]["vocabulary"]), payload["rerank"]["metric"],
                                   frames, frame_offsets, pool=payload["rerank"].get("pool", 1))
    if "qgram_indptr" in arrays:
        indptr = np.asarray(arrays["qgram_indptr"])
        if indptr[-1] != len(arrays["qgram_postings"]):
            raise ValueError("the bigram index does not match its postings")
        index._cache["qgram"] = QGramIndex(indptr, arrays["qgram_postings"], np.diff(offsets), index.vocabulary.size)
    if payload.get("graph"):
        from .graph import TokenGraph
        from .graph_walk import Layout

        keys = np.asarray(arrays["graph_keys"], np.int64)
        if len(keys) != n or (np.diff(keys) <= 0).any():
            raise ValueError("the graph keys do not match the items")
        # "id_bytes" is absent from files written before 16-bit ids: those packed bytes
        # the walk's arrays are absent from files written before graph_walk: the first search reads them then
        walk = {name: arrays.get(f"graph_walk_{name}") for name in Layout._fields}
        index._graph = TokenGraph.from_bytes(arrays["graph"], int(payload["graph"]["expansion_search"]), view=mmap,
                                             id_bytes=int(payload["graph"].get("id_bytes", 1)),
                                             layout=None if any(a is None for a in walk.values()) else Layout(**walk))
        if len(index._graph) != n:
            raise ValueError(f"the graph holds {len(index._graph)} items, the index {n}")
        index._graph_keys, index._graph_next_key = keys, int(payload["graph"]["next_key"])
    return index


def _load_v1(cls: type, Vocabulary: type, directory: str, payload: dict) -> Any:  # noqa: N803
    """Format version 1: tokens and durations inside ``index.json``, frames in a checksummed safetensors file."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as safetensors_load

    index = cls(Vocabulary(**payload["vocabulary"]), metric=payload["metric"], frame_rate=payload["frame_rate"],
                substitution_costs=payload.get("substitution_costs"))
    ids, labels = payload["ids"], payload["labels"]
    if index.kind == "tokens":
        sequences, durations = payload["tokens"], payload["durations"]
        if len(durations) != len(sequences):
            raise ValueError(f"{len(sequences)} sequences but {len(durations)} durations")
    else:
        frames_path = os.path.join(directory, os.path.basename(payload["frames_file"]))
        with open(frames_path, "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != payload["frames_sha256"]:
            raise ValueError(f"{frames_path} does not match the checksum recorded in {INDEX_FILE}")
        try:
            tensors = safetensors_load(data)
        except SafetensorError as error:
            raise ValueError(str(error)) from None
        flat, offsets = tensors["frames"], tensors["offsets"]
        if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(flat) or (np.diff(offsets) < 0).any():
            raise ValueError("inconsistent frame offsets")
        sequences = [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
        durations = None
    if len(sequences):
        dtype = np.int64 if index.kind == "tokens" else np.float32
        has_durations = durations is not None and any(d is not None for d in durations)
        index.add([np.asarray(s, dtype=dtype) for s in sequences], ids=ids, labels=labels,
                  durations=durations if has_durations else None)
    return index
