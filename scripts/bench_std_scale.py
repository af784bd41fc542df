"""Spoken-term-detection search at scale: top-10 subsequence (semi-global) ED over hours of tokenised recordings,
fast path (bigram filter + bounded refine, :mod:`wav2tok_hf.retrieval.qgram`) vs the exhaustive scan.

Recordings (SYNTHETIC assembly of real tokens): 60-second "recordings" concatenating real wav2tok-qbsh token strings
of MASTmelody (``results/scale/mastmelody_tokens.json``, see ``scripts/bench_scale.py``) at the measured token rate of
those strings (``--tokens-per-second``, default 5.3: 71,853 tokens over 13,556 s of audio). Queries: an excerpt of
8-12 tokens of a random recording, re-spoken as 0-20% random edits (SYNTHETIC). The items of the index are the
recordings; ``distance="normalized_subsequence_levenshtein"``; recall@10 against the exhaustive ranking.

Run on one core: ``taskset -c 1 nice -n 10 python scripts/bench_std_scale.py --hours 10 100 1000``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from wav2tok_hf.retrieval import Wav2TokIndex

DISTANCE = "normalized_subsequence_levenshtein"


def recordings(strings: list[np.ndarray], hours: float, tokens_per_second: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    per_recording = int(60 * tokens_per_second)
    n = max(1, int(hours * 60))
    pool = np.concatenate(strings)
    starts = rng.integers(0, len(pool) - per_recording, n)
    return [pool[s:s + per_recording].copy() for s in starts]


def respoken(items: list[np.ndarray], vocab: int, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    queries = []
    for _ in range(count):
        item = items[int(rng.integers(len(items)))]
        length = int(rng.integers(8, 13))
        start = int(rng.integers(0, len(item) - length))
        out = []
        rate = rng.uniform(0.0, 0.2)
        for token in item[start:start + length].tolist():
            u = rng.random()
            if u < rate / 3:
                out.append(int(rng.integers(vocab)))
            elif u < 2 * rate / 3:
                continue
            elif u < rate:
                out += [token, int(rng.integers(vocab))]
            else:
                out.append(token)
        queries.append(np.asarray(out or [int(item[start])], np.int32))
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="results/scale/mastmelody_tokens.json")
    parser.add_argument("--hours", type=float, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--tokens-per-second", type=float, default=5.3)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--exhaustive-queries", type=int, default=10)
    parser.add_argument("--vocab-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="results/scale/bench_std_scale")
    args = parser.parse_args()
    with open(args.tokens) as f:
        strings = [np.asarray(t, np.int32) for t in json.load(f)["tokens"] if len(t)]
    report = {"command": "python " + " ".join(sys.argv), "distance": DISTANCE, "rows": []}
    for hours in args.hours:
        items = recordings(strings, hours, args.tokens_per_second, args.seed)
        queries = respoken(items, args.vocab_size, args.queries, args.seed + 1)
        index = Wav2TokIndex(vocab_size=args.vocab_size, vocab_name="bench-std")
        index.add(items)
        index.fast_search_min_items = 1
        start = time.perf_counter()
        index.search(queries[0], distance=DISTANCE, top_k=10)  # builds the window bigram index
        build_s = time.perf_counter() - start
        fast_t, full_t, recalls = [], [], []
        for k, q in enumerate(queries):
            start = time.perf_counter()
            fast = index.search(q, distance=DISTANCE, top_k=10)
            fast_t.append(time.perf_counter() - start)
            if k < args.exhaustive_queries:
                start = time.perf_counter()
                full = index.search(q, distance=DISTANCE, top_k=10, exhaustive=True)
                full_t.append(time.perf_counter() - start)
                recalls.append(float(np.mean(fast.scores <= full.scores[-1] + 1e-9)))
        flat, _ = index._flat()
        row = {"hours": hours, "recordings": len(items), "tokens": int(len(flat)), "bigram_build_s": build_s,
               "fast_p50_ms": 1e3 * statistics.median(fast_t), "fast_p95_ms": 1e3 * float(np.percentile(fast_t, 95)),
               "exhaustive_p50_ms": 1e3 * statistics.median(full_t), "recall_at_10": float(np.mean(recalls)),
               "queries": len(queries), "exhaustive_queries": len(full_t)}
        print(row, flush=True)
        report["rows"].append(row)
        del index, items
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w") as f:
        json.dump(report, f, indent=1)
    lines = [f"Command: `{report['command']}`", "", "| hours (tokens) | fast p50 / p95 ms | exhaustive p50 ms | "
             "recall@10 | window index build + first search s |", "|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['hours']:g} ({r['tokens']:,}) | {r['fast_p50_ms']:.1f} / {r['fast_p95_ms']:.1f} | "
                     f"{r['exhaustive_p50_ms']:.0f} | {r['recall_at_10']:.3f} | {r['bigram_build_s']:.1f} |")
    with open(args.output + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
