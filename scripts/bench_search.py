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

POSITIVE = ("num_items", "length", "vocab_size", "num_queries", "term_length", "dtw_items", "dtw_frames", "dim",
            "repeats")


def main(argv: list[str] | None = None) -> dict:
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
    args = parser.parse_args(argv)
    for name in POSITIVE:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    from wav2tok_hf.benchmarks.search_speed import search_speed

    report, markdown = search_speed(**{name: getattr(args, name) for name in (*POSITIVE, "seed")})
    print(markdown)
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), **report}, f, indent=2)
        print(f"wrote {args.output}")
    return report


if __name__ == "__main__":
    main()
