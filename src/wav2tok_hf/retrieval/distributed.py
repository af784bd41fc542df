"""A :class:`~wav2tok_hf.retrieval.Wav2TokIndex` split into shards held by Ray actors (one process each, on one
machine or across a Ray cluster); a search fans out to every shard and merges their top-k.

Ray is the engine (actors, scheduling, transport, fault reporting); this module only places saved shard folders on
actors and merges rankings. Each actor opens its shard with :meth:`Wav2TokIndex.load` (memory-mapped), so a shard
folder must be readable where the actor runs (a shared file system, or the same path on every node).

Example (a local cluster; on a real cluster call ``ray.init(address="auto")`` on a node of it instead)::

    import ray
    from wav2tok_hf.retrieval.distributed import ShardedIndex, save_shards

    ray.init(num_cpus=4)
    folders = save_shards(index, "my-index-shards", num_shards=4)   # or shards built and saved separately
    sharded = ShardedIndex(folders)
    hits = sharded.search(query_tokens, distance="normalized_weighted_levenshtein", top_k=10)
    hits.ids, hits.scores, hits.shards
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import check_positive_int
from .index import Wav2TokIndex, _is_single_token_query


@dataclass
class ShardedResult:
    """One query's merged ranking: best (lowest score) first; ties in shard order, then item order within a shard
    (the order of one index holding the shards' items one after another)."""

    distance: str
    ids: list[str]
    labels: list[str]
    scores: np.ndarray
    shards: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def to_list(self) -> list[dict]:
        return [{"id": i, "label": lab, "score": float(s), "shard": int(sh)}
                for i, lab, s, sh in zip(self.ids, self.labels, self.scores, self.shards)]


def save_shards(index: Wav2TokIndex, directory: str | os.PathLike, num_shards: int) -> list[str]:
    """Split ``index`` into ``num_shards`` contiguous shards saved as ``directory/shard-00000`` ...; return their
    folders. Shards differ in size by at most one item (a shard may be empty when there are fewer items)."""
    check_positive_int("num_shards", num_shards)
    flat, offsets = index._flat()
    bounds = np.linspace(0, len(index), num_shards + 1).astype(int)
    folders = []
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        shard = Wav2TokIndex(index.vocabulary, metric=index.metric, frame_rate=index.frame_rate,
                             substitution_costs=index.substitution_costs)
        if hi > lo:
            durations = None
            if index._durations is not None:
                durations = [None if np.isnan(index._durations[offsets[i]]) else
                             index._durations[offsets[i]:offsets[i + 1]] for i in range(lo, hi)]
            shard.add([flat[offsets[i]:offsets[i + 1]] for i in range(lo, hi)], ids=index._ids[lo:hi].tolist(),
                      labels=index._class_names[index._codes[lo:hi]].tolist(), durations=durations)
        folder = os.path.join(os.fspath(directory), f"shard-{k:05d}")
        shard.save(folder)
        folders.append(folder)
    return folders


class _Shard:
    """Ray actor body: one opened shard."""

    def __init__(self, folder: str):
        self.index = Wav2TokIndex.load(folder)

    def size(self) -> int:
        return len(self.index)

    def vocabulary(self) -> Any:
        return self.index.vocabulary

    def search(self, queries: list, distance: str | None, top_k: int, exhaustive: bool) -> list[tuple]:
        if len(self.index) == 0:
            return [(np.empty(0), [], []) for _ in queries]
        results = self.index.search(list(queries), distance=distance, top_k=top_k, exhaustive=exhaustive)
        return [(np.asarray(r.scores, np.float64), r.ids, r.labels) for r in results]


class ShardedIndex:
    """Search shard folders held by Ray actors, one actor per shard (``ray.init`` must have been called).

    Args:
        folders: saved :class:`Wav2TokIndex` folders (e.g. from :func:`save_shards`), all of one vocabulary.
        num_cpus: CPUs Ray reserves per actor (the cluster needs ``len(folders) * num_cpus`` free CPUs).
        timeout_s: how long to wait for every shard to be opened before giving up with an error.
    """

    def __init__(self, folders: Sequence[str | os.PathLike], num_cpus: float = 1, timeout_s: float = 300):
        import ray

        if not ray.is_initialized():
            raise RuntimeError("Ray is not running in this process: call ray.init() (a local cluster) or "
                               "ray.init(address='auto') (join a running cluster) first")
        if not folders:
            raise ValueError("no shard folders given")
        for folder in folders:  # fail fast, before starting actors, on a folder that is not an index
            if not os.path.isfile(os.path.join(os.fspath(folder), "index.json")):
                raise FileNotFoundError(f"no index.json in shard folder {os.fspath(folder)!r}")
        actor = ray.remote(num_cpus=num_cpus)(_Shard)
        self._ray = ray
        self.actors = [actor.remote(os.fspath(f)) for f in folders]
        try:
            self.sizes = ray.get([a.size.remote() for a in self.actors], timeout=timeout_s)
            vocabularies = ray.get([a.vocabulary.remote() for a in self.actors], timeout=timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.shutdown()
            raise TimeoutError(f"{len(folders)} shard actors ({num_cpus} CPU each) were not all running after "
                               f"{timeout_s} s: the cluster has {ray.cluster_resources().get('CPU', 0)} CPUs; use "
                               "fewer shards, a smaller num_cpus, or a larger cluster") from None
        except ray.exceptions.RayActorError as error:
            self.shutdown()
            raise ValueError(f"a shard could not be opened: {error}") from None
        if any(v != vocabularies[0] for v in vocabularies):
            raise ValueError(f"shards hold different vocabularies: {sorted({str(v) for v in vocabularies})}")
        if sum(self.sizes) == 0:
            raise ValueError("every shard is empty; add items before searching")
        self.vocabulary = vocabularies[0]

    def __len__(self) -> int:
        return sum(self.sizes)

    def search(self, queries: Any, distance: str | None = None, top_k: int = 10,
               exhaustive: bool = False) -> ShardedResult | list[ShardedResult]:
        """Each shard's ``top_k`` (its fast path where it applies), merged into the global ``top_k``; one query or
        a list of token sequences, as :meth:`Wav2TokIndex.search`."""
        check_positive_int("top_k", top_k)
        single = _is_single_token_query(queries)
        batch = [np.asarray(queries)] if single else [np.asarray(q) for q in queries]
        live = [a for a, n in zip(self.actors, self.sizes) if n]
        shard_ids = [k for k, n in enumerate(self.sizes) if n]
        per_shard = self._ray.get([a.search.remote(batch, distance, top_k, exhaustive) for a in live])
        merged = []
        for q in range(len(batch)):
            scores = np.concatenate([per_shard[s][q][0] for s in range(len(live))])
            ids = [i for s in range(len(live)) for i in per_shard[s][q][1]]
            labels = [lab for s in range(len(live)) for lab in per_shard[s][q][2]]
            shards = np.concatenate([np.full(len(per_shard[s][q][0]), shard_ids[s]) for s in range(len(live))])
            order = np.argsort(scores, kind="stable")[:top_k]
            merged.append(ShardedResult(distance or "levenshtein", [ids[i] for i in order],
                                        [labels[i] for i in order], scores[order], shards[order]))
        return merged[0] if single else merged

    def shutdown(self) -> None:
        """Stop the shard actors (the Ray cluster itself keeps running)."""
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []
