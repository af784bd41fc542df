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
import json
import os
import statistics
import sys
import time

import numpy as np
from bench_scale import grow, mutate, near_token_table
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from wav2tok_hf.retrieval.graph import PAD, TokenGraph
from wav2tok_hf.retrieval.kernels import tokens_to_str

def contrast(row: np.ndarray) -> dict:
    s = np.sort(row)
    return {"d1": float(s[0]), "d10": float(s[9]), "d100": float(s[99]), "d1000": float(s[min(999, len(s) - 1)]),
            "median": float(np.median(s)), "within_0.05_of_d10": int((row <= s[9] + 0.05).sum())}


def main() -> None:
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
    args = parser.parse_args()
    from wav2tok_hf import Wav2TokModel

    with open(args.tokens) as f:
        corpus = json.load(f)
    costs = Wav2TokModel.from_pretrained(args.model).substitution_costs()
    if len(costs) >= PAD:
        sys.exit(f"vocabulary of {len(costs)} tokens; this benchmark packs token ids into bytes below {PAD}")
    is_query = [s == "test" and k == "query" for s, k in zip(corpus["split"], corpus["kind"])]
    queries = [np.asarray(t, np.int32) for t, q in zip(corpus["tokens"], is_query) if q][: args.queries]
    query_labels = [lab for lab, q in zip(corpus["label"], is_query) if q][: args.queries]
    seeds = [np.asarray(t, np.int32) for t, q in zip(corpus["tokens"], is_query) if not q]
    labels = [lab for lab, q in zip(corpus["label"], is_query) if not q]
    items, item_labels = grow(seeds, labels, args.size, costs, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    picks = rng.choice(len(items), len(queries), replace=False)
    near = [mutate(items[i], rng, near_token_table(costs), None, (0.0, 0.1)) for i in picks]
    query_sets = {"real hums (test split)": (queries, query_labels),
                  "near copies (SYNTHETIC, 0-10% edits of an item)": (near, [item_labels[i] for i in picks])}
    strings = [tokens_to_str(s) for s in items]
    flat = np.concatenate(items)
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in items])])
    start = time.perf_counter()
    graph = TokenGraph.build(flat, offsets, np.arange(len(items)), threads=args.build_threads,
                             connectivity=args.connectivity, expansion_add=args.expansion_add)
    report = {"command": "python " + " ".join(sys.argv), "items": len(items), "connectivity": args.connectivity,
              "expansion_add": args.expansion_add, "build_s": time.perf_counter() - start,
              "build_threads": args.build_threads, "truncated_items": int(sum(len(s) > 64 for s in items)),
              "sets": {}}
    print(f"built {len(items)} items in {report['build_s']:.1f} s", flush=True)
    labels_arr = np.asarray(item_labels)
    for name, (qs, qlabels) in query_sets.items():
        qstr = [tokens_to_str(q) for q in qs]
        start = time.perf_counter()
        full = process.cdist(qstr, strings, scorer=Levenshtein.normalized_distance, dtype=np.float32, workers=1)
        exhaustive_ms = (time.perf_counter() - start) / len(qs) * 1e3
        full_top = [np.argsort(row, kind="stable")[:10] for row in full]
        entry = {"queries": len(qs), "exhaustive_ms_per_query_batched": exhaustive_ms,
                 "mrr_at_10_exhaustive": float(np.mean([_rr(labels_arr[t], lab) for t, lab in zip(full_top, qlabels)])),
                 "contrast": {k: float(np.median([contrast(row)[k] for row in full])) for k in contrast(full[0])},
                 "ef": []}
        for ef in args.ef:
            lat, rec, rr = [], [], []
            for q, s, row, lab in zip(qs, qstr, full, qlabels):
                start = time.perf_counter()
                keys = graph.candidates(q, ef)
                exact = process.cdist([s], [strings[k] for k in keys], scorer=Levenshtein.normalized_distance,
                                      dtype=np.float32, workers=1)[0]
                order = np.argsort(exact, kind="stable")[:10]
                lat.append((time.perf_counter() - start) * 1e3)
                cut = np.sort(row)[9]
                rec.append(float(np.mean(exact[order] <= cut + 1e-6)))
                rr.append(_rr(labels_arr[keys[order]], lab))
            entry["ef"].append({"ef": ef, "p50_ms": statistics.median(lat), "p95_ms": float(np.percentile(lat, 95)),
                                "recall_at_10": float(np.mean(rec)), "recall_at_10_min": float(np.min(rec)),
                                "mrr_at_10": float(np.mean(rr))})
            print(name, entry["ef"][-1], flush=True)
        report["sets"][name] = entry
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(args.output + ".md", "w") as f:
        f.write(markdown(report))
    print(markdown(report))


def _rr(ranked_labels, label) -> float:
    hits = np.flatnonzero(np.asarray(ranked_labels) == label)
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def markdown(report: dict) -> str:
    lines = ["# Graph index (HNSW, usearch) over the exact normalised edit distance (`scripts/bench_graph_ann.py`)",
             "", f"Command: `{report['command']}`", "",
             f"{report['items']:,} items (real wav2tok-qbsh tokens of MASTmelody grown by SYNTHETIC mutation), "
             f"connectivity {report['connectivity']}, expansion_add {report['expansion_add']}; graph built in "
             f"{report['build_s']:.0f} s on {report['build_threads']} threads. One thread per query, top-10.", "",
             "| queries | ef | p50 / p95 ms | recall@10 (min) | MRR@10 graph / exhaustive |", "|---|---|---|---|---|"]
    for name, entry in report["sets"].items():
        for row in entry["ef"]:
            lines.append(f"| {name} | {row['ef']} | {row['p50_ms']:.2f} / {row['p95_ms']:.2f} | "
                         f"{row['recall_at_10']:.3f} ({row['recall_at_10_min']:.2f}) | {row['mrr_at_10']:.3f} / "
                         f"{entry['mrr_at_10_exhaustive']:.3f} |")
    lines += ["", "Relative contrast (median over queries of the exact normalised ED of the n-th neighbour):", "",
              "| queries | 1st | 10th | 100th | 1000th | median item | items within 0.05 of the 10th |",
              "|---|---|---|---|---|---|---|"]
    for name, entry in report["sets"].items():
        c = entry["contrast"]
        lines.append(f"| {name} | {c['d1']:.3f} | {c['d10']:.3f} | {c['d100']:.3f} | {c['d1000']:.3f} | "
                     f"{c['median']:.3f} | {c['within_0.05_of_d10']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
