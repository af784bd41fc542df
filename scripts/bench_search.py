"""Search speed of ``Wav2TokIndex`` against the raw distance kernels it wraps.

For each case the raw kernel is called directly on pre-converted data (the fastest of the candidates listed), then
the same work goes through ``Wav2TokIndex.search`` (validation, kernel, full ranking). The ratio index/raw is the
overhead of the index (target: <= 2). Throughput is in DP cells (query length x item length) per second. The
codebook-weighted ED (our numba kernel: rapidfuzz has no substitution-cost matrix) is also compared with plain
normalised ED (rapidfuzz) in the same run: the price of the weighted ranking.

Usage:
    python scripts/bench_search.py --output bench_search.json
    python scripts/bench_search.py --num-items 2000 --repeats 3   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from wav2tok_hf.modeling_wav2tok import codebook_substitution_costs
from wav2tok_hf.retrieval import Wav2TokIndex, kernels


def interleaved(functions: dict, repeats: int) -> dict[str, float]:
    """Median wall time (s) of each function, after one warm-up call each (JIT compilation, caches); the functions
    take turns in every repeat so that load from other processes affects them alike."""
    for fn in functions.values():
        fn()
    runs: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-items", type=int, default=10_000, help="database sequences")
    parser.add_argument("--length", type=int, default=100, help="mean tokens per sequence (uniform +-20%%)")
    parser.add_argument("--vocab-size", type=int, default=25)
    parser.add_argument("--num-queries", type=int, default=100, help="queries of the many-queries case")
    parser.add_argument("--term-length", type=int, default=20, help="query tokens of the subsequence case")
    parser.add_argument("--dtw-items", type=int, default=1000, help="database items of the DTW cases")
    parser.add_argument("--dtw-frames", type=int, default=100, help="frames per item / query of the DTW cases")
    parser.add_argument("--dim", type=int, default=64, help="frame dimension of the DTW cases")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    low, high = int(args.length * 0.8), int(args.length * 1.2) + 1
    db = [rng.integers(0, args.vocab_size, rng.integers(low, high)) for _ in range(args.num_items)]
    queries = [rng.integers(0, args.vocab_size, rng.integers(low, high)) for _ in range(args.num_queries)]
    term = rng.integers(0, args.vocab_size, args.term_length)
    index = Wav2TokIndex(vocab_size=args.vocab_size, vocab_name="bench")
    index.add(db)
    index.search(queries[0])  # builds the index's string cache once, as any first search does
    costs = codebook_substitution_costs(rng.standard_normal((args.vocab_size, 16)), temperature=0.4)
    weighted = Wav2TokIndex(vocab_size=args.vocab_size, vocab_name="bench", substitution_costs=costs)
    weighted.add(db)
    db_str = [kernels.tokens_to_str(s) for s in db]
    db_int = [s.tolist() for s in db]
    q_str = [kernels.tokens_to_str(q) for q in queries]
    flat, offsets = np.concatenate(db).astype(np.int32), np.r_[0, np.cumsum([len(s) for s in db])].astype(np.int64)
    db_len = np.array([len(s) for s in db])

    def cdist(qs, ds, scorer=Levenshtein.distance):
        return lambda: process.cdist(qs, ds, scorer=scorer, workers=-1)

    cases = [
        ("ED, 1 query", int(len(queries[0]) * db_len.sum()), {
            "rapidfuzz.cdist (str)": cdist(q_str[:1], db_str),
            "rapidfuzz.cdist (int lists)": cdist([queries[0].tolist()], db_int),
        }, lambda: index.search(queries[0])),
        (f"ED, {args.num_queries} queries", int(sum(len(q) for q in queries) * db_len.sum()), {
            "rapidfuzz.cdist (str)": cdist(q_str, db_str),
        }, lambda: index.search(queries)),
        ("normalised ED, 1 query", int(len(queries[0]) * db_len.sum()), {
            "rapidfuzz.cdist (str)": cdist(q_str[:1], db_str, Levenshtein.normalized_distance),
        }, lambda: index.search(queries[0], distance="normalized_levenshtein")),
        ("weighted normalised ED, 1 query", int(len(queries[0]) * db_len.sum()), {
            "numba weighted kernel": lambda: kernels.weighted_levenshtein(queries[0].astype(np.int32), flat, offsets,
                                                                          costs),
        }, lambda: weighted.search(queries[0], distance="normalized_weighted_levenshtein")),
        (f"subsequence ED, 1 query of {args.term_length}", int(args.term_length * db_len.sum()), {
            "numba semi-global kernel": lambda: kernels.semiglobal_levenshtein(term.astype(np.int32), flat, offsets),
        }, lambda: index.search(term, distance="subsequence_levenshtein")),
    ]

    frames = [rng.standard_normal((args.dtw_frames, args.dim)).astype(np.float32) for _ in range(args.dtw_items)]
    frames = [f / np.linalg.norm(f, axis=1, keepdims=True) for f in frames]
    frame_index = Wav2TokIndex(frame_dim=args.dim, vocab_name="bench-frames", metric="cosine")
    frame_index.add(frames)
    frame_flat, frame_offsets = frame_index._flat()
    dtw_query = frames[0]
    dtw_cells = args.dtw_frames * args.dtw_frames * args.dtw_items
    for subsequence in (False, True):
        name = "subsequence DTW" if subsequence else "DTW"
        cases.append((f"{name}, 1 query, {args.dtw_items} items x {args.dtw_frames} frames", dtw_cells, {
            "numba DTW kernel (GEMM costs)": lambda s=subsequence: kernels.dtw_search(
                dtw_query, frame_flat, frame_offsets, "cosine", s),
        }, lambda s=subsequence: frame_index.search(dtw_query, distance="subsequence_dtw" if s else "dtw")))

    # librosa's DTW for reference (per pair, on a subset; reported as throughput only)
    import librosa

    sample = frames[:20]
    librosa_s = interleaved({"librosa": lambda: [librosa.sequence.dtw(dtw_query.T, f.T, metric="cosine",
                                                                       backtrack=False) for f in sample]},
                            max(1, args.repeats // 2))["librosa"]
    librosa_cells_per_s = args.dtw_frames * args.dtw_frames * len(sample) / librosa_s

    rows = []
    for name, cells, raw_candidates, ours in cases:
        times = interleaved({**raw_candidates, "index": ours}, args.repeats)
        ours_s = times.pop("index")
        raw_name = min(times, key=times.get)
        raw_s = times[raw_name]
        rows.append({"case": name, "raw_kernel": raw_name, "raw_ms": raw_s * 1e3, "index_ms": ours_s * 1e3,
                     "ratio": ours_s / raw_s, "index_mcells_per_s": cells / ours_s / 1e6,
                     "raw_mcells_per_s": cells / raw_s / 1e6})

    print(f"\nWav2TokIndex search vs raw kernels: {args.num_items} items of ~{args.length} tokens "
          f"(vocab {args.vocab_size}), {os.cpu_count()} CPU cores, median of {args.repeats}\n")
    print("| case | raw kernel | raw ms | index ms | index / raw | index Mcells/s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['raw_kernel']} | {r['raw_ms']:.2f} | {r['index_ms']:.2f} | {r['ratio']:.2f} | "
              f"{r['index_mcells_per_s']:.0f} |")
    by_case = {r["case"]: r for r in rows}
    weighted_vs_plain = by_case["weighted normalised ED, 1 query"]["index_ms"] / by_case["normalised ED, 1 query"]["index_ms"]
    print(f"\nweighted / plain normalised ED search time (same run, same index size): {weighted_vs_plain:.1f}x")
    print(f"librosa.sequence.dtw (per pair, cosine, reference): {librosa_cells_per_s / 1e6:.1f} Mcells/s")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                       "rows": rows, "weighted_vs_plain_normalised_ed": weighted_vs_plain,
                       "librosa_dtw_mcells_per_s": librosa_cells_per_s / 1e6}, f, indent=2)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
