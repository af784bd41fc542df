"""Spoken-term-detection search at scale: top-10 subsequence (semi-global) ED over hours of tokenised recordings,
fast path (window bigram filter, range searches of rising cost, :mod:`wav2tok_hf.retrieval.qgram`) vs the exhaustive
scan.

Recordings (SYNTHETIC assembly of real tokens): 60-second "recordings" concatenating real wav2tok-qbsh token strings
of MASTmelody (``results/scale/mastmelody_tokens.json``, see ``scripts/bench_scale.py``) at the measured token rate of
those strings (``--tokens-per-second``, default 5.3: 71,853 tokens over 13,556 s of audio). Queries: an excerpt of
8-12 tokens of a random recording, re-spoken as 0-20% random edits (SYNTHETIC). The items of the index are the
recordings; ``distance="normalized_subsequence_levenshtein"``; recall@10 against the exhaustive ranking.

``--max-score 0.2 0.3`` also measures the threshold (range) search, ``search(q, max_score=x)``: every recording
holding a segment within ``x`` of the query (window bounds as a filter, the exact semi-global ED, bit-parallel, on
the windows that pass): its latency, hits per query, recall against the exhaustive ranking cut at ``x`` (and whether
the results are identical), how many queries fell back to the full scan and how many windows the others verified.

Run on one core: ``taskset -c 1 nice -n 10 python scripts/bench_std_scale.py --hours 10 100 1000``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import _common  # scripts/, on sys.path when a script runs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="results/scale/mastmelody_tokens.json")
    parser.add_argument("--hours", type=float, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--tokens-per-second", type=float, default=5.3)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--exhaustive-queries", type=int, default=10)
    parser.add_argument("--vocab-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-score", type=float, nargs="+", default=[],
                        help="also measure the threshold (range) search at these normalised scores")
    parser.add_argument("--output", default="results/scale/bench_std_scale")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("queries", "exhaustive_queries", "vocab_size"):
        _common.check_positive(parser, getattr(args, flag), "--" + flag.replace("_", "-"))
    if min(args.hours) <= 0:
        parser.error(f"--hours must be positive, got {args.hours}")
    per_recording = int(60 * args.tokens_per_second)
    if per_recording < 13:
        parser.error(f"--tokens-per-second {args.tokens_per_second:g}: a 60-second recording must hold more tokens "
                     "than a query excerpt (12)")
    if not os.path.isfile(args.tokens):
        parser.error(f"--tokens {args.tokens!r} does not exist (scripts/bench_scale.py --make-tokens writes it)")
    from wav2tok_hf.benchmarks.std_scale import load_token_strings, run_std_scale_benchmark

    strings = load_token_strings(args.tokens)
    if sum(map(len, strings)) <= per_recording:
        parser.error(f"--tokens {args.tokens!r}: {sum(map(len, strings))} tokens, too few for a 60-second recording "
                     f"of {per_recording}")
    if max(int(s.max()) for s in strings) >= args.vocab_size:
        parser.error(f"--tokens {args.tokens!r} holds token ids >= --vocab-size {args.vocab_size}")
    report, markdown = run_std_scale_benchmark(
        strings, args.hours, tokens_per_second=args.tokens_per_second, queries=args.queries,
        exhaustive_queries=args.exhaustive_queries, vocab_size=args.vocab_size, seed=args.seed,
        max_scores=args.max_score, command="python " + " ".join(sys.argv), on_row=lambda row: print(row, flush=True))
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(args.output + ".md", "w") as f:
        f.write(markdown + "\n")
    print(markdown)
    return report


if __name__ == "__main__":
    main()
