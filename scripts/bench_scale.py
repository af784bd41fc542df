"""Search at scale: ``Wav2TokIndex`` fast top-k path vs the exhaustive scan, 10k -> 100k -> 1M items.

Corpus (real tokens, grown by mutation): a tokens JSON made by ``--tokens`` (``{"tokens", "label", "kind",
"split"}`` lists; ``scripts/bench_scale.py --make-tokens`` writes one from MASTmelody re-synthesised from real
singers' pitch tracks, tokenised by ``checkpoints/wav2tok-qbsh``). Queries are the real sung performances of the
test split (never in the database, never mutated); the database holds every other real token string (references and
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
Writes ``results/scale/bench_scale.json``, ``.md`` and ``latency_vs_items.png``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import time

import numpy as np

from wav2tok_hf.retrieval import Wav2TokIndex, kernels
from wav2tok_hf.retrieval.metrics import mean_reciprocal_rank

DISTANCES = ("normalized_levenshtein", "normalized_weighted_levenshtein")
QUERY_SETS = {"real": "real hums (test split)", "near": "near copies (SYNTHETIC, 0-10% edits of an item)"}


def make_tokens(model_dir: str, source: str, output: str) -> None:
    """Tokenise MASTmelody (real pitch tracks, re-synthesised) with ``model_dir``; write the tokens JSON."""
    import torch

    from wav2tok_hf import Wav2TokModel
    from wav2tok_hf.data import prepare_mastmelody

    torch.set_num_threads(1)
    model = Wav2TokModel.from_pretrained(model_dir)
    out = {"tokens": [], "label": [], "kind": [], "split": [], "id": []}
    for split, ds in prepare_mastmelody(source).items():
        for start in range(0, ds.num_rows, 32):
            rows = ds[start:start + 32]
            audio = [a["array"] if isinstance(a, dict) else a.get_all_samples().data.numpy().mean(0)
                     for a in rows["audio"]]
            tokens = model.encode(audio, sampling_rate=ds.features["audio"].sampling_rate)
            out["tokens"] += [list(map(int, t)) for t in tokens]
            out["label"] += rows["melody_id"]
            out["kind"] += rows["kind"]
            out["split"] += [split] * len(tokens)
            out["id"] += rows["source_id"]
    with open(output, "w") as f:
        json.dump(out, f)


def near_token_table(costs: np.ndarray, temperature: float = 0.2) -> np.ndarray:
    """Row-stochastic substitution probabilities: near codewords (low cost) are likelier, never the token itself."""
    weights = np.exp(-costs / temperature)
    np.fill_diagonal(weights, 0.0)
    return np.cumsum(weights / weights.sum(1, keepdims=True), axis=1)


def mutate(seq: np.ndarray, rng: np.random.Generator, near: np.ndarray, partner: np.ndarray | None,
           rates: tuple[float, float] = (0.05, 0.35)) -> np.ndarray:
    if partner is not None and len(seq) > 4 and len(partner) > 4:
        seq = np.concatenate([seq[: rng.integers(2, len(seq) - 1)], partner[rng.integers(1, len(partner) - 2):]])
    crop = int(0.1 * len(seq))
    if crop:
        seq = seq[rng.integers(0, crop + 1): len(seq) - rng.integers(0, crop + 1)]
    out = []
    rate = rng.uniform(*rates)
    ops = rng.random(len(seq))
    for token, u in zip(seq.tolist(), ops.tolist()):
        if u < rate / 3:  # substitution to a near codeword
            out.append(int(np.searchsorted(near[token], rng.random())))
        elif u < 2 * rate / 3:  # deletion
            continue
        elif u < rate:  # insertion next to it (a repeat or a near token)
            out += [token, token if rng.random() < 0.5 else int(np.searchsorted(near[token], rng.random()))]
        else:
            out.append(token)
    if not out:
        out = [int(seq[0])]
    # consecutive repeats are collapsed, as in the model's tokens
    out = np.asarray(out, np.int32)
    return out[np.r_[True, out[1:] != out[:-1]]]


def grow(seeds: list[np.ndarray], labels: list[str], size: int, costs: np.ndarray, seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    near = near_token_table(costs)
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    items, item_labels = list(seeds), list(labels)
    while len(items) < size:
        i = int(rng.integers(len(seeds)))
        partner = None
        if rng.random() < 0.2:
            partner = seeds[int(rng.choice(by_label[labels[i]]))]
        items.append(mutate(seeds[i], rng, near, partner))
        item_labels.append(labels[i])
    return items[:size], item_labels[:size]


def timed(fn, repeats: int = 1):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, times


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def recall_at_k(fast, full, k: int) -> float:
    cut = full.scores[min(k, len(full)) - 1]
    return float(np.mean(np.asarray(fast.scores[:k], np.float64) <= float(cut) + 1e-6))


def rr_at_k(result, label: str, k: int = 10) -> float:
    rank = result.rank_of(label)
    return 0.0 if rank is None or rank > k else 1.0 / rank


def bench_size(items, labels, query_sets, costs, vocab, args, exhaustive_queries) -> dict:
    gc.collect()
    before = rss_mb()
    index = Wav2TokIndex(vocab_size=vocab, vocab_name="bench-scale", substitution_costs=costs)
    (_, add_s) = timed(lambda: index.add(items, labels=labels))
    _, flat_s = timed(index._flat)
    _, build_s = timed(index._qgrams)
    after_build = rss_mb()
    flat, offsets = index._flat()
    grams = index._qgrams()
    array_bytes = (flat.nbytes + offsets.nbytes + index._codes.nbytes + grams.indptr.nbytes + grams.postings.nbytes
                   + grams.lengths.nbytes)
    ids_bytes = sum(sys.getsizeof(i) for i in index._ids[:1000]) / 1000 * len(index) + index._ids.nbytes
    row = {"items": len(index), "tokens_per_item": float(np.diff(offsets).mean()), "add_s": add_s[0],
           "flatten_s": flat_s[0], "bigram_build_s": build_s[0],
           "array_bytes_per_item": array_bytes / len(index), "ids_bytes_per_item": ids_bytes / len(index),
           "rss_growth_mb": after_build - before}
    if args.graph:  # the fast path becomes the graph: search(top_k) walks it, candidates=C explores C items
        _, graph_s = timed(lambda: index.build_graph(threads=args.build_threads))
        row["graph_build_s"], row["graph_build_threads"] = graph_s[0], args.build_threads
        row["graph_bytes_per_item"] = len(index._graph.to_bytes()) / len(index)
        row["rss_growth_mb"] = rss_mb() - before
        print(f"  graph over {len(index):,} items built in {graph_s[0]:.0f} s", flush=True)
    folder = os.path.join(args.scratch, f"index-{len(index)}")
    shutil.rmtree(folder, ignore_errors=True)
    _, save_s = timed(lambda: index.save(folder))
    row["save_s"] = save_s[0]
    row["disk_mb"] = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)) / 2**20
    opened, open_s = timed(lambda: Wav2TokIndex.load(folder))
    row["open_s"] = open_s[0]
    _, first_s = timed(lambda: opened.search(query_sets["real"][0][0], distance=DISTANCES[0], top_k=10))
    row["opened_first_search_s"] = first_s[0]
    del opened
    index.fast_search_min_items = 1
    for (set_name, (queries, query_labels)), distance in itertools.product(query_sets.items(), DISTANCES):
        fast_t, full_t, recalls, stage1, rr_fast, rr_full, verified = [], [], [], [], [], [], []
        approx = {c: {"t": [], "recall": [], "rr": []} for c in args.candidates}
        weighted = index.substitution_costs if "weighted" in distance else None
        index._cache.pop("scans", None)  # the fast path's record of full-scan answers: each query set starts fresh
        for qi, (q, lab) in enumerate(zip(queries, query_labels)):
            fast, t = timed(lambda: index.search(q, distance=distance, top_k=10), args.repeats)
            fast_t.append(statistics.median(t))
            rr_fast.append(rr_at_k(fast, lab))
            if qi < exhaustive_queries:
                if args.graph:
                    verified.append(max(10, index._graph.expansion_search * (4 if weighted is not None else 1)))
                else:
                    top = grams.top_k(q, flat, offsets, 10, True, index._strings, weighted,
                                      index.fast_search_candidates)
                    stage1.append(top.stage == 1)
                    verified.append(top.verified)
                full, t = timed(lambda: index.search(q, distance=distance, top_k=10, exhaustive=True))
                full_t.append(t[0])
                recalls.append(recall_at_k(fast, full, 10))
                rr_full.append(rr_at_k(full, lab))
                for c, out in approx.items():  # APPROXIMATE: exact distances on the c best-bounded items only
                    near, t = timed(lambda: index.search(q, distance=distance, top_k=10, candidates=c))
                    out["t"].append(t[0])
                    out["recall"].append(recall_at_k(near, full, 10))
                    out["rr"].append(rr_at_k(near, lab))
        paired = fast_t[:len(full_t)]  # the same queries as the exhaustive timings
        row[f"{set_name}/{distance}"] = {
            "fast_p50_ms": 1e3 * float(np.percentile(paired, 50)), "fast_p95_ms": 1e3 * float(np.percentile(paired, 95)),
            "fast_p50_ms_all_queries": 1e3 * float(np.percentile(fast_t, 50)),
            "exhaustive_p50_ms": 1e3 * float(np.percentile(full_t, 50)),
            "exhaustive_p95_ms": 1e3 * float(np.percentile(full_t, 95)),
            "recall_at_10": float(np.mean(recalls)), "min_recall_at_10": float(np.min(recalls)),
            "bigram_stage_fraction": float(np.mean(stage1)) if stage1 else float("nan"), "verified_per_query": float(np.mean(verified)),
            "queries": len(queries), "exhaustive_queries": len(full_t),
            "mrr_at_10_fast": float(np.mean(rr_fast[:len(rr_full)])), "mrr_at_10_exhaustive": float(np.mean(rr_full)),
            "approximate": {str(c): {"p50_ms": 1e3 * float(np.percentile(o["t"], 50)),
                                     "p95_ms": 1e3 * float(np.percentile(o["t"], 95)),
                                     "recall_at_10": float(np.mean(o["recall"])),
                                     "min_recall_at_10": float(np.min(o["recall"])), "mrr_at_10": float(np.mean(o["rr"]))}
                            for c, o in approx.items()},
        }
        print(f"  {len(index):>9,} {set_name} {distance}: {row[f'{set_name}/{distance}']}", flush=True)
    del index, grams, flat, offsets
    shutil.rmtree(folder, ignore_errors=True)
    return row


def real_corpus_mrr(seeds, labels, queries, query_labels, costs, vocab) -> dict:
    """MRR of the real queries against the real token strings only: full ranking vs fast top-10 (forced)."""
    index = Wav2TokIndex(vocab_size=vocab, vocab_name="bench-scale", substitution_costs=costs)
    index.add(seeds, labels=labels)
    out = {"items": len(index), "queries": len(queries)}
    for distance in DISTANCES:
        index.fast_search_min_items = 10**12
        full = [index.search(q, distance=distance) for q in queries]
        ranks = [r.rank_of(lab) for r, lab in zip(full, query_labels)]
        index.fast_search_min_items = 1
        fast = [index.search(q, distance=distance, top_k=10) for q in queries]
        out[distance] = {"mrr_exhaustive": mean_reciprocal_rank(ranks),
                         "mrr_at_10_exhaustive": float(np.mean([rr_at_k(r, lab) for r, lab in zip(full, query_labels)])),
                         "mrr_at_10_fast": float(np.mean([rr_at_k(r, lab) for r, lab in zip(fast, query_labels)]))}
    return out


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


def markdown(report: dict) -> str:
    lines = ["# Search at scale (`scripts/bench_scale.py`)", "",
             f"Command: `{report['command']}`", "",
             "Database: real wav2tok-qbsh tokens of MASTmelody (real singers' pitch tracks, re-synthesised) grown by "
             "mutation (SYNTHETIC variation of real strings); queries: real sung test performances, not in the "
             "database; near copies: SYNTHETIC mutations (0-10% edits) of random database items (re-encoded / duplicate "
             "audio). One core, one query at a time, top_k=10.", "",
             *([f"**Fast path = the graph** (`Wav2TokIndex.build_graph()`, APPROXIMATE: HNSW walked with the normalised "
                f"ED, exact re-score of its candidates; 'exact distances / query' = graph candidates; C below = "
                f"candidates the graph explores). Graph built in "
                + ", ".join(f"{r['graph_build_s']:.0f} s ({r['items']:,} items, {r['graph_build_threads']} threads)"
                            for r in report["sizes"]) + ".", ""] if report["sizes"] and "graph_build_s" in
               report["sizes"][0] else []),
             "| items | queries | distance | fast p50 / p95 ms | exhaustive p50 / p95 ms | recall@10 (min) | answered by bigram "
             "stage | exact distances / query | MRR@10 fast / exhaustive |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["sizes"]:
        for name, d in itertools.product(QUERY_SETS, DISTANCES):
            m = r[f"{name}/{d}"]
            lines.append(f"| {r['items']:,} | {QUERY_SETS[name]} | {d} | {m['fast_p50_ms']:.1f} / {m['fast_p95_ms']:.1f} | "
                         f"{m['exhaustive_p50_ms']:.0f} / {m['exhaustive_p95_ms']:.0f} | {m['recall_at_10']:.4f} "
                         f"({m['min_recall_at_10']:.1f}) | {m['bigram_stage_fraction']:.2f} | {m['verified_per_query']:,.0f} | "
                         f"{m['mrr_at_10_fast']:.4f} / "
                         f"{m['mrr_at_10_exhaustive']:.4f} |")
    lines += ["", "| items | add s | bigram index build s | arrays B/item | ids B/item | RSS growth MB | disk MB | "
              "save s | open s | first search after open s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["sizes"]:
        lines.append(f"| {r['items']:,} | {r['add_s']:.1f} | {r['bigram_build_s']:.2f} | {r['array_bytes_per_item']:.0f} "
                     f"| {r['ids_bytes_per_item']:.0f} | {r['rss_growth_mb']:.0f} | {r['disk_mb']:.0f} | "
                     f"{r['save_s']:.2f} | {r['open_s']:.3f} | {r['opened_first_search_s']:.3f} |")
    approx_rows = [(r, name, d, c, m) for r in report["sizes"] for name, d in itertools.product(QUERY_SETS, DISTANCES)
                   for c, m in r[f"{name}/{d}"].get("approximate", {}).items()]
    if approx_rows:
        graph = "graph_build_s" in report["sizes"][0]
        lines += ["", "APPROXIMATE search (`search(..., top_k=10, candidates=C)`: exact distances on the C items "
                  + ("the graph returns" if graph else "of lowest bigram bound") + " only), same queries, same run:", "",
                  "| items | queries | distance | C | p50 / p95 ms | exhaustive p50 ms | recall@10 (min) | MRR@10 approx / "
                  "exhaustive |", "|---|---|---|---|---|---|---|---|"]
        for r, name, d, c, m in approx_rows:
            e = r[f"{name}/{d}"]
            lines.append(f"| {r['items']:,} | {QUERY_SETS[name]} | {d} | {int(c):,} | {m['p50_ms']:.1f} / {m['p95_ms']:.1f} | "
                         f"{e['exhaustive_p50_ms']:.0f} | {m['recall_at_10']:.4f} ({m['min_recall_at_10']:.1f}) | "
                         f"{m['mrr_at_10']:.4f} / {e['mrr_at_10_exhaustive']:.4f} |")
    real = report["real_corpus"]
    lines += ["", f"Real corpus only ({real['items']} real token strings, {real['queries']} real queries; fast path "
              "forced): MRR", "", "| distance | MRR (full ranking) | MRR@10 exhaustive | MRR@10 fast |",
              "|---|---|---|---|"]
    for d in DISTANCES:
        m = real[d]
        lines.append(f"| {d} | {m['mrr_exhaustive']:.4f} | {m['mrr_at_10_exhaustive']:.4f} | {m['mrr_at_10_fast']:.4f} |")
    return "\n".join(lines) + "\n"


def write_report(output: str, report: dict) -> None:
    """``<output>.json`` and ``<output>.md`` (the table) of a report."""
    with open(output + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(output + ".md", "w") as f:
        f.write(markdown(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", default="results/scale/mastmelody_tokens.json")
    parser.add_argument("--make-tokens", action="store_true", help="tokenise MASTmelody into --tokens first")
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
    parser.add_argument("--scratch", default="runs/bench_scale")
    parser.add_argument("--output", default="results/scale/bench_scale")
    parser.add_argument("--merge", nargs="+", help="only combine these report JSONs (runs of different sizes) into "
                        "--output .json/.md and the plot")
    args = parser.parse_args()
    if args.merge:
        reports = []
        for path in args.merge:
            with open(path) as f:
                reports.append(json.load(f))
        merged = {**reports[0], "command": " + ".join(r["command"] for r in reports),
                  "sizes": sorted((row for r in reports for row in r["sizes"]), key=lambda row: row["items"])}
        write_report(args.output, merged)
        plot(merged["sizes"], os.path.join(os.path.dirname(args.output), "latency_vs_items.png"))
        print(markdown(merged))
        return
    if args.make_tokens:
        make_tokens(args.model, args.source, args.tokens)
    with open(args.tokens) as f:
        corpus = json.load(f)
    from wav2tok_hf import Wav2TokModel

    costs = Wav2TokModel.from_pretrained(args.model).substitution_costs()
    vocab = len(costs)
    is_query = [s == "test" and k == "query" for s, k in zip(corpus["split"], corpus["kind"])]
    queries = [np.asarray(t, np.int32) for t, q in zip(corpus["tokens"], is_query) if q][: args.queries]
    query_labels = [lab for lab, q in zip(corpus["label"], is_query) if q][: args.queries]
    seeds = [np.asarray(t, np.int32) for t, q in zip(corpus["tokens"], is_query) if not q]
    labels = [lab for lab, q in zip(corpus["label"], is_query) if not q]
    os.makedirs(args.scratch, exist_ok=True)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    report = {"command": "python " + " ".join(sys.argv), "platform": platform.platform(),
              "cpu_affinity": len(os.sched_getaffinity(0)), "numba_threads": kernels.numba.get_num_threads(),
              "seed_strings": len(seeds), "queries": len(queries),
              "real_corpus": real_corpus_mrr(seeds, labels, queries, query_labels, costs, vocab), "sizes": []}
    print(report["real_corpus"], flush=True)
    rng = np.random.default_rng(args.seed + 1)
    near = near_token_table(costs)
    for size in sorted(args.sizes):
        items, item_labels = grow(seeds, labels, size, costs, args.seed)
        picks = rng.choice(len(items), len(queries), replace=False)
        near_queries = [mutate(items[i], rng, near, None, (0.0, 0.1)) for i in picks]
        query_sets = {"real": (queries, query_labels), "near": (near_queries, [item_labels[i] for i in picks])}
        report["sizes"].append(bench_size(items, item_labels, query_sets, costs, vocab, args, args.exhaustive_queries))
        del items, item_labels
        report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        write_report(args.output, report)
    plot(report["sizes"], os.path.join(os.path.dirname(args.output), "latency_vs_items.png"))
    print(markdown(report))


if __name__ == "__main__":
    main()
