"""Spoken-term-detection search at scale: top-10 subsequence (semi-global) ED over hours of tokenised recordings,
fast path (bigram filter + bounded refine, :mod:`wav2tok_hf.retrieval.qgram`) vs the exhaustive scan.

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


def range_search(index: Wav2TokIndex, queries: list[np.ndarray], rankings: list, max_score: float) -> dict:
    """The range search at ``max_score``: latency, hits, and recall against the exhaustive ``rankings`` (of the first
    queries) cut at ``max_score``."""
    flat, offsets = index._flat()
    times, hits, recalls, identical, verified, scans = [], [], [], [], [], 0
    for k, q in enumerate(queries):
        start = time.perf_counter()
        result = index.search(q, distance=DISTANCE, max_score=max_score)
        times.append(time.perf_counter() - start)
        hits.append(len(result))
        found = index._windows().within(q, flat, offsets, max_score, normalized=True)  # untimed: the work it did
        scans += found.stage == 2
        if found.stage == 1:
            verified.append(found.verified)
        if k < len(rankings):
            expected = rankings[k]._subset(np.flatnonzero(rankings[k].scores <= max_score))
            recalls.append(len(np.intersect1d(result.indices, expected.indices)) / len(expected) if len(expected)
                           else 1.0)
            identical.append(result.to_list() == expected.to_list())
    return {"max_score": max_score, "p50_ms": 1e3 * statistics.median(times),
            "p95_ms": 1e3 * float(np.percentile(times, 95)), "hits_mean": float(np.mean(hits)),
            "hits_max": int(max(hits)), "recall": float(np.mean(recalls)), "identical": int(sum(identical)),
            "checked": len(recalls), "full_scans": scans,
            "windows_verified_p50": float(np.median(verified)) if verified else None}


def main() -> None:
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
        if args.max_score:
            rankings = [index.search(q, distance=DISTANCE, exhaustive=True)
                        for q in queries[:args.exhaustive_queries]]
            row["range"] = [range_search(index, queries, rankings, x) for x in args.max_score]
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
    if args.max_score:
        lines += ["", "Threshold (range) search, `search(q, distance=..., max_score=x)`, recall against the exhaustive "
                  "ranking cut at x:", "", "| hours | max_score | range p50 / p95 ms | hits per query (mean / max) | "
                  "recall (identical / checked) | full scans | windows verified p50 |", "|---|---|---|---|---|---|---|"]
        for r in report["rows"]:
            for s in r["range"]:
                windows = "-" if s["windows_verified_p50"] is None else f"{s['windows_verified_p50']:,.0f}"
                lines.append(f"| {r['hours']:g} | {s['max_score']:g} | {s['p50_ms']:.1f} / {s['p95_ms']:.1f} | "
                             f"{s['hits_mean']:.1f} / {s['hits_max']} | {s['recall']:.3f} ({s['identical']} / "
                             f"{s['checked']}) | {s['full_scans']} / {r['queries']} | {windows} |")
    with open(args.output + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
