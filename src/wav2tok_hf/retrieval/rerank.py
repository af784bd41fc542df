"""The re-rank stage of :class:`~wav2tok_hf.retrieval.Wav2TokIndex`: per-item frame sequences stored beside the
tokens (float16), used to re-score a token shortlist by DTW.

Token search is cheap and scales; DTW over frame embeddings is accurate but costs ~100x more per item. Re-ranking
the top ``N`` items of the token ranking by DTW over stored frames gets DTW's ordering at the token search's cost
plus ``N`` DTWs per query.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels


def check_frames(frames: Any, vocabulary: Any, what: str) -> np.ndarray:
    """One item's frames as a float32 ``(frames, vocabulary.size)`` array, after checking that they are a non-empty
    2-D numeric array (numpy or torch) of the vocabulary's frame dimension without NaN/inf; the one frame validator
    of the index (DTW items and queries) and of its re-rank store.

    Example:
        >>> from wav2tok_hf.retrieval import Vocabulary
        >>> check_frames([[1, 2], [3, 4]], Vocabulary("demo-frames", 2, "frames"), "item 0").dtype
        dtype('float32')
        >>> check_frames(np.zeros((3, 5)), Vocabulary("demo-frames", 2, "frames"), "item 0")
        Traceback (most recent call last):
        ...
        ValueError: item 0 has frame dimension 5, but the vocabulary 'demo-frames' has frame dimension 2
    """
    array = np.asarray(frames.detach().cpu() if hasattr(frames, "detach") else frames)
    dim = vocabulary.size
    if array.ndim != 2 or array.shape[0] == 0 or array.dtype.kind not in "fiu":
        raise ValueError(f"{what} must be a non-empty 2-D (frames, {dim}) float array, got shape {array.shape}")
    if array.shape[1] != dim:
        raise ValueError(f"{what} has frame dimension {array.shape[1]}, but the vocabulary {vocabulary.name!r} "
                         f"has frame dimension {dim}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN/inf values")
    return array


def check_pool(pool: Any, name: str = "pool") -> int:
    """``pool`` as an int after checking it is a positive number of frames (not a bool); the one check of the
    store and of ``wav2tok index build --rerank-pool`` (which runs it before any work).

    Example:
        >>> check_pool(4)
        4
    """
    if isinstance(pool, bool) or not isinstance(pool, (int, np.integer)) or pool < 1:
        raise ValueError(f"{name}={pool!r}; expected a positive number of frames to average into one")
    return int(pool)


class RerankStore:
    """Frame sequences of every item of an index, flat in float16 (``data[offsets[i]:offsets[i + 1]]``).

    Args:
        vocabulary: the :class:`~wav2tok_hf.retrieval.Vocabulary` of the frames (``kind="frames"``), e.g.
            ``vocabulary_of(model, "frames")`` or a frames baseline's ``vocabulary``; queries must share it.
        metric: frame metric of the DTW (``"cosine"``: frames stored unit-norm, or ``"euclidean"``).
        pool: average every ``pool`` consecutive frames into one, for items and queries alike (DTW cost falls with
            its square; 4 kept the MASTmelody validation MRR of the re-rank at 1/7 of its time, docs/RESULTS.md 4a6).

    Example:
        >>> import numpy as np
        >>> from wav2tok_hf.retrieval import Vocabulary
        >>> store = RerankStore(Vocabulary("demo-frames", 2, "frames"), "euclidean")
        >>> store.extend([store.validate(np.zeros((3, 2)), "item"), store.validate(np.ones((2, 2)), "item")])
        >>> store.scores(np.ones((2, 2), np.float32), np.array([0, 1]), subsequence=False).round(3).tolist()
        [0.849, 0.0]
    """

    def __init__(self, vocabulary: Any, metric: str = "cosine", data: np.ndarray | None = None,
                 offsets: np.ndarray | None = None, pool: int = 1):
        if vocabulary.kind != "frames":
            raise ValueError(f"re-rank frames need a frames vocabulary, got kind={vocabulary.kind!r}")
        if metric not in kernels.FRAME_METRICS:
            raise ValueError(f"metric={metric!r}; accepted: {kernels.FRAME_METRICS}")
        self.vocabulary = vocabulary
        self.metric = metric
        self.pool = check_pool(pool)
        self._data = np.empty((0, vocabulary.size), np.float16) if data is None else data
        self._offsets = np.zeros(1, np.int64) if offsets is None else np.asarray(offsets, np.int64)
        self._pending: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._offsets) - 1 + len(self._pending)

    def validate(self, frames: Any, what: str) -> np.ndarray:
        """One item's frames as float16 ``(frames, dim)``: every ``pool`` frames averaged into one (the last block
        over the frames it has), then unit-norm rows for ``cosine``.

        Example:
            >>> from wav2tok_hf.retrieval import Vocabulary
            >>> store = RerankStore(Vocabulary("demo-frames", 1, "frames"), "euclidean", pool=2)
            >>> store.validate([[1.0], [3.0], [5.0]], "item").ravel().tolist()
            [2.0, 5.0]
        """
        array = check_frames(frames, self.vocabulary, f"{what}: re-rank frames")
        if self.pool > 1:
            starts = np.arange(0, len(array), self.pool)
            array = np.add.reduceat(array, starts, axis=0) / np.diff(np.append(starts, len(array)))[:, None]
        if self.metric == "cosine":
            array = array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
        return array.astype(np.float16)

    def extend(self, frames: list[np.ndarray]) -> None:
        """Append validated frame arrays (see :meth:`validate`), one per new item."""
        self._pending.extend(frames)

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pending:
            lengths = np.array([len(f) for f in self._pending], np.int64)
            self._data = np.concatenate([self._data, *self._pending])
            self._offsets = np.concatenate([self._offsets, self._offsets[-1] + np.cumsum(lengths)])
            self._pending = []
        return self._data, self._offsets

    def keep(self, mask: np.ndarray) -> None:
        """Drop the items where ``mask`` is False (index deletions)."""
        data, offsets = self.flat()
        lengths = np.diff(offsets)[mask]
        rows = np.repeat(mask, np.diff(offsets))
        self._data = data[rows]
        self._offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def scores(self, query: np.ndarray, items: np.ndarray, subsequence: bool) -> np.ndarray:
        """DTW distance (normalised as :func:`~wav2tok_hf.retrieval.kernels.dtw_search`) of ``query`` frames to
        each listed item's stored frames."""
        data, offsets = self.flat()
        items = np.asarray(items, np.int64)
        pieces = [data[offsets[i]:offsets[i + 1]] for i in items.tolist()]
        sub_offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64)
        flat = np.concatenate(pieces).astype(np.float32)
        costs, _, _ = kernels.dtw_search(np.ascontiguousarray(query, np.float32), flat, sub_offsets, self.metric,
                                         subsequence)
        return costs
