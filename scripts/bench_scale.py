"""Search at scale: ``Wav2TokIndex`` fast top-k path vs the exhaustive scan, 10k -> 100k -> 1M items.

Corpus (real tokens, grown by mutation): a tokens JSON made by ``--tokens`` (``{"tokens", "label", "kind",
"split"}`` lists; ``scripts/bench_scale.py --make-tokens`` writes one from MASTmelody re-synthesised from real
singers' pitch tracks, tokenised by ``checkpoints/wav2tok-qbsh``; with ``--corpus speechocean762`` from its real
read-English word clips, tokenised by a speech model, e.g. ``checkpoints/wav2tok-speech`` with K=800: speech tokens,
labels are words). Queries are the real sung performances (words) of the test split (never in the database, never
mutated); the database holds every other real token string (references and
other performances) plus mutated copies of them until it reaches the size: per copy an edit rate drawn from
U(0.05, 0.35) of substitutions to a codeword-near token (probability ``exp(-cost / 0.2)`` under the model's
substitution costs), insertions (a repeat of a neighbour or a near token) and deletions, a random crop of up to 10%
at each end, and with probability 0.2 a splice of two strings of the same melody. A copy keeps its seed's melody
label.

Measured per size, one query at a time, ``top_k=10``: p50 / p95 latency of the fast path and of the exhaustive scan
(``exhaustive=True``) for ``normalized_levenshtein`` and ``normalized_weighted_levenshtein``; recall@10 of the fast
path against the exhaustive ranking (a returned item counts when its exact distance is <= the exhaustive 10th best:
ties at the cut are interchangeable); the fraction of queries proven exact; build time of the bigram index; memory
per item (tracemalloc of index arrays, and RSS growth); index size on disk; save and open times; MRR@10 of the
real queries (a hit = an item of the query's melody) with and without the fast path. Plus the real corpus alone
(queries vs the real strings): MRR (full ranking) exhaustive vs fast top-10 forced by a low threshold.

Run on one core: ``taskset -c 0 nice -n 10 python scripts/bench_scale.py --sizes 10000 100000 1000000``.
Writes ``results/scale/bench_scale.json``, ``.md`` and ``.png`` (latency vs items; named after ``--output``, so a
run of other sizes never overwrites another run's plot).
"""

from __future__ import annotations

import argparse
import os
import sys

from wav2tok_hf.benchmarks.scale import DISTANCES, QUERY_SETS
from wav2tok_hf.retrieval.graph import EXPANSION_SEARCH


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["items"] for r in rows]
    for distance, style in zip(DISTANCES, ("-", "--")):
        ax.plot(sizes, [r[f"real/{distance}"]["exhaustive_p50_ms"] for r in rows], "o" + style,
                label=f"exhaustive, {distance}")
        for name in QUERY_SETS:
            ax.plot(sizes, [r[f"{name}/{distance}"]["fast_p50_ms"] for r in rows], ("s" if name == "real" else "^")
                    + style, label=f"fast top-10, {name} queries, {distance}")
    ax.set(xscale="log", yscale="log", xlabel="items in the index", ylabel="p50 latency per query (ms), 1 core",
           title="Wav2TokIndex search latency vs index size")
    ax.axhline(10, color="gray", lw=0.8, ls=":")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="results/scale/mastmelody_tokens.json")
    parser.add_argument("--make-tokens", action="store_true", help="tokenise --corpus into --tokens first")
    parser.add_argument("--corpus", choices=["mastmelody", "speechocean762"], default="mastmelody",
                        help="with --make-tokens: MASTmelody (melody tokens; --source its folder) or speechocean762 "
                             "words (speech tokens; --source its folder, Hub id or built corpus; --model a speech model)")
    parser.add_argument("--model", default="checkpoints/wav2tok-qbsh")
    parser.add_argument("--source", default="../shared/data/mastmelody")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100, help="real test queries timed on the fast path")
    parser.add_argument("--exhaustive-queries", type=int, default=30,
                        help="of which also scanned exhaustively (latency ratios use only these)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per query (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", type=int, nargs="*", default=[],
                        help="also time APPROXIMATE search with these candidate counts (recall vs exhaustive)")
    parser.add_argument("--graph", action="store_true",
                        help="measure the graph path (Wav2TokIndex.build_graph) as the fast path, and --candidates "
                        "as the number of items the graph explores")
    parser.add_argument("--build-threads", type=int, default=0, help="graph build threads (0: all cores)")
    parser.add_argument("--expansion-search", type=int, default=EXPANSION_SEARCH,
                        help="the graph's default candidates (Wav2TokIndex.build_graph; default %(default)s); "
                        "--candidates below it explore this many")
    parser.add_argument("--scratch", default="runs/bench_scale")
    parser.add_argument("--output", default="results/scale/bench_scale")
    parser.add_argument("--merge", nargs="+", help="only combine these report JSONs (runs of different sizes) into "
                        "--output .json/.md and the plot")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("queries", "exhaustive_queries", "repeats"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be a positive integer, got {getattr(args, flag)}")
    if not (args.merge or args.make_tokens or os.path.isfile(args.tokens)):
        parser.error(f"--tokens {args.tokens!r} does not exist; pass --make-tokens to write it first")
    from wav2tok_hf.benchmarks import scale

    if args.merge:
        report = scale.merge_reports(args.merge)
        scale.write_report(args.output, report)
    else:
        if args.make_tokens:
            import torch

            torch.set_num_threads(1)
            scale.make_tokens(args.model, args.source, args.tokens, args.corpus)
        from wav2tok_hf import Wav2TokModel

        report = scale.run_scale_benchmark(
            scale.load_token_corpus(args.tokens, args.queries), Wav2TokModel.from_pretrained(args.model).substitution_costs(),
            args.sizes, output=args.output, scratch=args.scratch, command="python " + " ".join(sys.argv),
            repeats=args.repeats, exhaustive_queries=args.exhaustive_queries, candidates=args.candidates,
            graph=args.graph, build_threads=args.build_threads, expansion_search=args.expansion_search, seed=args.seed)
    plot(report["sizes"], args.output + ".png")
    print(scale.scale_markdown(report))
    return report


if __name__ == "__main__":
    main()
