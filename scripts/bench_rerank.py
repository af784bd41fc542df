#!/usr/bin/env python
"""Search time per query, measured in one process: token search alone, tokens then re-rank of the top k by DTW over
the model's stored frame embeddings (``Wav2TokIndex``'s re-rank stage), and full pitch-contour DTW over every item.

Run it single-threaded (``NUMBA_NUM_THREADS=1``) on a shared machine: numba's parallel kernels otherwise wait for
threads and every search costs the same. Writes ``bench_rerank.md`` / ``.json`` (best of ``--repeats`` per row).

Usage:
    NUMBA_NUM_THREADS=1 python scripts/bench_rerank.py --model checkpoints/wav2tok-mastmelody \
        --corpus-dir data_cache/mastmelody-50-15-35 --references-per-label 5 --output-dir results/rerank-speed
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="wav2tok model folder")
    parser.add_argument("--corpus-dir", required=True, help="a saved corpus (DatasetDict) with a test split")
    parser.add_argument("--references-per-label", type=int, default=None)
    parser.add_argument("--max-queries", type=int, default=60)
    parser.add_argument("--rerank", type=int, nargs="+", default=[2, 3, 5], help="shortlist sizes")
    parser.add_argument("--rerank-pools", type=int, nargs="+", default=[1], metavar="N",
                        help="re-rank rows with every N stored frames averaged into one (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output-dir", default="results/rerank-speed")
    args = parser.parse_args(argv)
    if min(args.rerank_pools) < 1:
        parser.error(f"--rerank-pools {args.rerank_pools}: expected positive numbers of frames to average into one")
    if not os.path.isdir(args.corpus_dir):
        parser.error(f"--corpus-dir {args.corpus_dir!r} is not a folder; expected a saved corpus")
    import datasets

    from _common import load_model_dir
    from wav2tok_hf.benchmarks.rerank_speed import rerank_speed

    try:
        model = load_model_dir(args.model)
    except (FileNotFoundError, OSError, ValueError) as error:
        parser.error(f"--model: {error}")
    report, markdown = rerank_speed(model, datasets.load_from_disk(args.corpus_dir)["test"],
                                    references_per_label=args.references_per_label, max_queries=args.max_queries,
                                    rerank=args.rerank, repeats=args.repeats,
                                    pools=args.rerank_pools)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "bench_rerank.md"), "w", encoding="utf-8") as f:
        f.write(markdown + "\n")
    with open(os.path.join(args.output_dir, "bench_rerank.json"), "w", encoding="utf-8") as f:
        json.dump({"title": report["title"], "model": args.model, **report}, f, indent=1)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
