"""Lever for search at scale: a graph index (HNSW, usearch) over the TRUE normalised edit distance.

Tokens of real hums are far from everything in a large collection: the exhaustive 10th neighbour of a real sung
query sits barely below the 1,000th (low relative contrast), so candidate stages built on bigram counts cannot
prune (``scripts/bench_scale.py``). This measures whether a proximity graph walked with the exact distance does
better: ``wav2tok_hf.retrieval.graph.TokenGraph`` (what ``Wav2TokIndex.build_graph`` uses: usearch's HNSW with a
numba-compiled normalised Levenshtein metric over strings packed into 64 tokens), the ``ef`` nearest returned items
re-scored exactly with rapidfuzz. Database and queries as in ``bench_scale.py``: real wav2tok-qbsh tokens of
MASTmelody (real singers' pitch tracks, re-synthesised) grown by mutation (SYNTHETIC variation), queried by the
real sung test performances and by SYNTHETIC near copies (0-10 % edits of an item).

Reported per query set and ``ef``: p50 / p95 latency on one thread (graph walk + exact re-score), recall@10 against
the exhaustive ranking (ties at the cut count as found), MRR@10 (a hit = the query's melody) graph vs exhaustive;
per query set, the relative contrast: percentiles of the exact distances (1st, 10th, 100th, 1000th neighbour,
median) and the number of items within 0.05 of the 10th neighbour.

Run: ``taskset -c 0 python scripts/bench_graph_ann.py --size 100000`` (building the graph
uses ``--build-threads``).
Writes ``results/scale/bench_graph_ann.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="results/scale/mastmelody_tokens.json")
    parser.add_argument("--model", default="checkpoints/wav2tok-qbsh", help="substitution costs for the mutations")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--connectivity", type=int, default=16)
    parser.add_argument("--expansion-add", type=int, default=128)
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="results/scale/bench_graph_ann")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.tokens):
        parser.error(f"--tokens {args.tokens!r} does not exist (scripts/bench_scale.py --make-tokens writes it)")
    from wav2tok_hf import Wav2TokModel
    from wav2tok_hf.benchmarks import scale
    from wav2tok_hf.benchmarks.graph_ann import graph_ann_markdown, run_graph_ann
    from wav2tok_hf.retrieval.graph import id_bytes_for

    costs = Wav2TokModel.from_pretrained(args.model).substitution_costs()
    try:
        id_bytes_for(len(costs))
    except ValueError as error:
        parser.error(str(error))
    report = run_graph_ann(scale.load_token_corpus(args.tokens, args.queries), costs, args.size,
                           command="python " + " ".join(sys.argv), connectivity=args.connectivity,
                           expansion_add=args.expansion_add, ef=args.ef, build_threads=args.build_threads,
                           seed=args.seed)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    scale.write_report(args.output, report, graph_ann_markdown)
    print(graph_ann_markdown(report))
    return report


if __name__ == "__main__":
    main()
