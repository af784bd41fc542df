"""Search speed of ``Wav2TokIndex`` against the raw distance kernels it wraps (``scripts/bench_search.py``).

For each case the raw kernel is called directly on pre-converted data (the fastest of the candidates listed), then
the same work goes through ``Wav2TokIndex.search`` (validation, kernel, full ranking); index / raw is the overhead of
the index. Throughput is in DP cells (query length x item length) per second. Random token strings and random unit
frames, seeded.

Example (a tiny run, a few seconds with the numba kernels compiled):
    >>> report, markdown = search_speed(num_items=20, length=10, num_queries=2, term_length=4, dtw_items=4,
    ...                                 dtw_frames=8, dim=4, repeats=1)
    >>> [row["case"] for row in report["rows"]][:2]
    ['ED, 1 query', 'ED, 2 queries']
    >>> markdown.splitlines()[1].startswith("Wav2TokIndex search vs raw kernels: 20 items of ~10 tokens (vocab 25)")
    True
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import Any

import numpy as np

from .timing import interleaved_medians

Case = tuple[str, int, dict[str, Callable[[], object]], Callable[[], object]]
"""``(name, DP cells, {raw kernel name: call}, index call)``."""


def _token_cases(rng: np.random.Generator, num_items: int, length: int, vocab_size: int, num_queries: int,
                 term_length: int) -> list[Case]:
    """Edit-distance cases: plain, many queries, normalised, codebook-weighted, subsequence."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    from ..modeling_wav2tok import codebook_substitution_costs
    from ..retrieval import Wav2TokIndex, kernels

    low, high = int(length * 0.8), int(length * 1.2) + 1
    db = [rng.integers(0, vocab_size, rng.integers(low, high)) for _ in range(num_items)]
    queries = [rng.integers(0, vocab_size, rng.integers(low, high)) for _ in range(num_queries)]
    term = rng.integers(0, vocab_size, term_length)
    index = Wav2TokIndex(vocab_size=vocab_size, vocab_name="bench")
    index.add(db)
    index.search(queries[0])  # builds the index's string cache once, as any first search does
    costs = codebook_substitution_costs(rng.standard_normal((vocab_size, 16)), temperature=0.4)
    weighted = Wav2TokIndex(vocab_size=vocab_size, vocab_name="bench", substitution_costs=costs)
    weighted.add(db)
    db_str = [kernels.tokens_to_str(s) for s in db]
    db_int = [s.tolist() for s in db]
    q_str = [kernels.tokens_to_str(q) for q in queries]
    flat, offsets = np.concatenate(db).astype(np.int32), np.r_[0, np.cumsum([len(s) for s in db])].astype(np.int64)
    one_query_cells = int(len(queries[0]) * sum(len(s) for s in db))

    def cdist(qs: list, ds: list, scorer: Callable = Levenshtein.distance) -> Callable[[], object]:
        return lambda: process.cdist(qs, ds, scorer=scorer, workers=-1)

    return [
        ("ED, 1 query", one_query_cells, {
            "rapidfuzz.cdist (str)": cdist(q_str[:1], db_str),
            "rapidfuzz.cdist (int lists)": cdist([queries[0].tolist()], db_int),
        }, lambda: index.search(queries[0])),
        (f"ED, {num_queries} queries", int(sum(len(q) for q in queries) * sum(len(s) for s in db)), {
            "rapidfuzz.cdist (str)": cdist(q_str, db_str),
        }, lambda: index.search(queries)),
        ("normalised ED, 1 query", one_query_cells, {
            "rapidfuzz.cdist (str)": cdist(q_str[:1], db_str, Levenshtein.normalized_distance),
        }, lambda: index.search(queries[0], distance="normalized_levenshtein")),
        ("weighted normalised ED, 1 query", one_query_cells, {
            "numba weighted kernel": lambda: kernels.weighted_levenshtein(queries[0].astype(np.int32), flat, offsets,
                                                                          costs),
        }, lambda: weighted.search(queries[0], distance="normalized_weighted_levenshtein")),
        (f"subsequence ED, 1 query of {term_length}", int(term_length * sum(len(s) for s in db)), {
            "numba semi-global kernel": lambda: kernels.semiglobal_levenshtein(term.astype(np.int32), flat, offsets),
        }, lambda: index.search(term, distance="subsequence_levenshtein")),
    ]


def _frame_cases(frames: list[np.ndarray], dtw_frames: int, dim: int) -> list[Case]:
    """DTW and subsequence DTW of the first of ``frames`` against all of them (cosine)."""
    from ..retrieval import Wav2TokIndex, kernels

    frame_index = Wav2TokIndex(frame_dim=dim, vocab_name="bench-frames", metric="cosine")
    frame_index.add(frames)
    frame_flat, frame_offsets = frame_index._flat()
    query = frames[0]
    cases: list[Case] = []
    for subsequence in (False, True):
        name = "subsequence DTW" if subsequence else "DTW"
        cells = dtw_frames * dtw_frames * len(frames)
        cases.append((f"{name}, 1 query, {len(frames)} items x {dtw_frames} frames", cells, {
            "numba DTW kernel (GEMM costs)": lambda s=subsequence: kernels.dtw_search(
                query, frame_flat, frame_offsets, "cosine", s),
        }, lambda s=subsequence: frame_index.search(query, distance="subsequence_dtw" if s else "dtw")))
    return cases


def _librosa_cells_per_s(frames: list[np.ndarray], dtw_frames: int, repeats: int) -> float:
    """librosa's DTW for reference: per pair, on the first 20 items, in DP cells per second."""
    import librosa

    sample = frames[:20]
    seconds = interleaved_medians({"librosa": lambda: [librosa.sequence.dtw(frames[0].T, f.T, metric="cosine",
                                                                            backtrack=False) for f in sample]},
                                  max(1, repeats // 2))["librosa"]
    return dtw_frames * dtw_frames * len(sample) / seconds


def search_speed(num_items: int = 10_000, length: int = 100, vocab_size: int = 25, num_queries: int = 100,
                 term_length: int = 20, dtw_items: int = 1000, dtw_frames: int = 100, dim: int = 64,
                 repeats: int = 5, seed: int = 0) -> tuple[dict[str, Any], str]:
    """Time every case, index against raw kernel, the median of ``repeats`` interleaved runs.

    Args:
        num_items: database token strings of ``length`` tokens on average (uniform +-20 %), ids below ``vocab_size``.
        num_queries: queries of the many-queries case; ``term_length``: query tokens of the subsequence case.
        dtw_items, dtw_frames, dim: database items, frames per item / query and frame size of the DTW cases.

    Returns ``(report, markdown)``: ``{"cpu_count", "platform", "rows": [{"case", "raw_kernel", "raw_ms",
    "index_ms", "ratio", "index_mcells_per_s", "raw_mcells_per_s"}], "weighted_vs_plain_normalised_ed",
    "librosa_dtw_mcells_per_s"}`` and the table.
    """
    rng = np.random.default_rng(seed)
    cases = _token_cases(rng, num_items, length, vocab_size, num_queries, term_length)
    frames = [rng.standard_normal((dtw_frames, dim)).astype(np.float32) for _ in range(dtw_items)]
    frames = [f / np.linalg.norm(f, axis=1, keepdims=True) for f in frames]
    cases += _frame_cases(frames, dtw_frames, dim)
    librosa_cells_per_s = _librosa_cells_per_s(frames, dtw_frames, repeats)
    rows = []
    for name, cells, raw_candidates, ours in cases:
        times = interleaved_medians({**raw_candidates, "index": ours}, repeats)
        ours_s = times.pop("index")
        raw_name = min(times, key=times.get)
        raw_s = times[raw_name]
        rows.append({"case": name, "raw_kernel": raw_name, "raw_ms": raw_s * 1e3, "index_ms": ours_s * 1e3,
                     "ratio": ours_s / raw_s, "index_mcells_per_s": cells / ours_s / 1e6,
                     "raw_mcells_per_s": cells / raw_s / 1e6})
    by_case = {r["case"]: r for r in rows}
    weighted_vs_plain = (by_case["weighted normalised ED, 1 query"]["index_ms"]
                         / by_case["normalised ED, 1 query"]["index_ms"])
    report = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "rows": rows,
              "weighted_vs_plain_normalised_ed": weighted_vs_plain,
              "librosa_dtw_mcells_per_s": librosa_cells_per_s / 1e6}
    title = (f"Wav2TokIndex search vs raw kernels: {num_items} items of ~{length} tokens (vocab {vocab_size}), "
             f"{os.cpu_count()} CPU cores, median of {repeats}")
    return report, _markdown(report, title)


def _markdown(report: dict[str, Any], title: str) -> str:
    lines = ["", title, "", "| case | raw kernel | raw ms | index ms | index / raw | index Mcells/s |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['case']} | {r['raw_kernel']} | {r['raw_ms']:.2f} | {r['index_ms']:.2f} | {r['ratio']:.2f} | "
              f"{r['index_mcells_per_s']:.0f} |" for r in report["rows"]]
    lines += ["", "weighted / plain normalised ED search time (same run, same index size): "
                  f"{report['weighted_vs_plain_normalised_ed']:.1f}x",
              f"librosa.sequence.dtw (per pair, cosine, reference): {report['librosa_dtw_mcells_per_s']:.1f} Mcells/s"]
    return "\n".join(lines)
