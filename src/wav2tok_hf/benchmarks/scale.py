"""Search at scale (``scripts/bench_scale.py``): ``Wav2TokIndex``'s fast top-k path against the exhaustive scan as
the index grows, on real token strings grown by mutation; and that corpus, which the graph lever
(:mod:`~wav2tok_hf.benchmarks.graph_ann`) uses too.

The corpus: a tokens JSON (``{"tokens", "label", "kind", "split", "id"}`` lists, :func:`make_tokens`); queries are
the real sung performances of the test split (never in the database, never mutated); the database holds every
other real token string plus mutated copies of them (:func:`grow`, :func:`mutate`) until it reaches the size. Per
size :func:`bench_size` measures build time, memory, save / open times, and per query set and distance the fast
path's and the exhaustive scan's latency, the fast path's recall@10 against the exhaustive ranking and MRR@10.

Example:
    >>> import numpy as np
    >>> near = near_token_table(np.ones((4, 4)) - np.eye(4))  # every other token equally near
    >>> copy = mutate(np.array([0, 1, 2, 3, 0, 1, 2, 3], np.int32), np.random.default_rng(0), near, None)
    >>> copy.dtype, bool((copy[1:] != copy[:-1]).all())  # consecutive repeats collapsed, as in the model's tokens
    (dtype('int32'), True)
"""

from __future__ import annotations

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
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..retrieval.graph import EXPANSION_SEARCH

DISTANCES = ("normalized_levenshtein", "normalized_weighted_levenshtein")
TOKEN_CORPORA = {
    "mastmelody": "real wav2tok-qbsh tokens of MASTmelody (real singers' pitch tracks, re-synthesised) grown by "
                  "mutation (SYNTHETIC variation of real strings); queries: real sung test performances, not in the "
                  "database",
    "speechocean762": "real speech tokens (a speech model's, e.g. wav2tok-speech, K=800) of speechocean762 word clips "
                      "(real read English) grown by mutation (SYNTHETIC variation of real strings); queries: real "
                      "words said by the test speakers, not in the database",
}
QUERY_SETS = {"real": "real queries (test split)", "near": "near copies (SYNTHETIC, 0-10% edits of an item)"}


def _print(line: str) -> None:
    print(line, flush=True)


class TokenCorpus(NamedTuple):
    """A tokens JSON split into queries (real test-split performances) and seeds (every other real string)."""

    queries: list[np.ndarray]
    query_labels: list[str]
    seeds: list[np.ndarray]
    labels: list[str]
    corpus: str = "mastmelody"  # what the strings are (TOKEN_CORPORA; a file without the key is MASTmelody's)


def load_token_corpus(path: str, max_queries: int | None = None) -> TokenCorpus:
    """Read a tokens JSON (:func:`make_tokens`); at most ``max_queries`` queries, in file order."""
    with open(path) as f:
        corpus = json.load(f)
    is_query = [s == "test" and k == "query" for s, k in zip(corpus["split"], corpus["kind"])]
    queries = [np.asarray(t, np.int32) for t, q in zip(corpus["tokens"], is_query) if q][:max_queries]
    query_labels = [lab for lab, q in zip(corpus["label"], is_query) if q][:max_queries]
    seeds = [np.asarray(t, np.int32) for t, q in zip(corpus["tokens"], is_query) if not q]
    labels = [lab for lab, q in zip(corpus["label"], is_query) if not q]
    return TokenCorpus(queries, query_labels, seeds, labels, corpus.get("corpus", "mastmelody"))


def make_tokens(model_dir: str, source: str, output: str, corpus: str = "mastmelody") -> None:
    """Tokenise a real corpus with ``model_dir``; write the tokens JSON. ``"mastmelody"``: real singers' pitch
    tracks re-synthesised (queries: the test split's sung performances; labels: melodies); ``"speechocean762"``:
    real read English word clips cut by the recipe (a folder, Hub id or built corpus; queries: the test speakers'
    words that other speakers say too; labels: words)."""
    from .. import Wav2TokModel
    from ..data import prepare_mastmelody, prepare_speechocean762

    if corpus not in TOKEN_CORPORA:
        raise ValueError(f"corpus={corpus!r}; accepted: {', '.join(TOKEN_CORPORA)}")
    model = Wav2TokModel.from_pretrained(model_dir)
    out: dict[str, Any] = {"corpus": corpus, "tokens": [], "label": [], "kind": [], "split": [], "id": []}
    if corpus == "mastmelody":
        splits = prepare_mastmelody(source).items()
    else:
        from datasets import load_from_disk

        built = (load_from_disk(source) if os.path.isfile(os.path.join(source, "dataset_dict.json"))
                 else prepare_speechocean762(source))  # prepared once, not once per split
        splits = ((split, built[split]) for split in ("train", "validation", "test"))
    for split, ds in splits:
        for start in range(0, ds.num_rows, 32):
            rows = ds[start:start + 32]
            audio = [a["array"] if isinstance(a, dict) else a.get_all_samples().data.numpy().mean(0)
                     for a in rows["audio"]]
            tokens = model.encode(audio, sampling_rate=ds.features["audio"].sampling_rate)
            out["tokens"] += [list(map(int, t)) for t in tokens]
            if corpus == "mastmelody":
                out["label"] += rows["melody_id"]
                out["kind"] += rows["kind"]
            else:
                out["label"] += rows["label"]
                out["kind"] += ["query" if split == "test" else "reference"] * len(tokens)
            out["split"] += [split] * len(tokens)
            out["id"] += rows["source_id"]
    if corpus != "mastmelody":  # a test word no other speaker's clip says cannot be found: it joins the database
        known = {lab for lab, split in zip(out["label"], out["split"]) if split != "test"}
        out["kind"] = [k if lab in known else "reference" for k, lab in zip(out["kind"], out["label"])]
    with open(output, "w") as f:
        json.dump(out, f)


def near_token_table(costs: np.ndarray, temperature: float = 0.2) -> np.ndarray:
    """Cumulative substitution probabilities per token (``searchsorted(table[t], u)`` draws a substitute for ``t``):
    near codewords (low cost) are likelier, never the token itself. Each row ends at exactly 1, so no draw falls
    past the vocabulary (with 800 tokens the float sum stopped short of 1 and drew id 800).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> table = near_token_table(rng.random((800, 800)))
        >>> bool((table[:, -1] == 1).all()), int(np.searchsorted(table[3], 0.9999999999))
        (True, 799)
    """
    weights = np.exp(-costs / temperature)
    np.fill_diagonal(weights, 0.0)
    table = np.cumsum(weights / weights.sum(1, keepdims=True), axis=1)
    table[:, -1] = 1.0
    return table


def mutate(seq: np.ndarray, rng: np.random.Generator, near: np.ndarray, partner: np.ndarray | None,
           rates: tuple[float, float] = (0.05, 0.35)) -> np.ndarray:
    """A mutated copy of ``seq``: an optional splice with ``partner``, a crop of up to 10 % at each end, then an edit
    rate drawn from ``rates`` of near-codeword substitutions, deletions and insertions."""
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
    """``size`` items: the seeds, then mutated copies of random seeds (a fifth spliced with a seed of the same
    label), each keeping its seed's label."""
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


def near_copies(items: list[np.ndarray], item_labels: list[str], count: int, near: np.ndarray,
                rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
    """``count`` SYNTHETIC near-copy queries: 0-10 % edits of distinct random items, with their labels."""
    picks = rng.choice(len(items), count, replace=False)
    return [mutate(items[i], rng, near, None, (0.0, 0.1)) for i in picks], [item_labels[i] for i in picks]


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[Any, list[float]]:
    """``(the last result, wall seconds of each of ``repeats`` calls)``."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, times


def rss_mb() -> float:
    """This process's resident memory in MiB (Linux; NaN elsewhere)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def recall_at_k(fast: Any, full: Any, k: int) -> float:
    """Fraction of ``fast``'s top k whose exact distance is within the exhaustive k-th best (ties count)."""
    cut = full.scores[min(k, len(full)) - 1]
    return float(np.mean(np.asarray(fast.scores[:k], np.float64) <= float(cut) + 1e-6))


def rr_at_k(result: Any, label: str, k: int = 10) -> float:
    """Reciprocal rank of the first item of ``label`` in ``result``, 0 beyond rank k."""
    rank = result.rank_of(label)
    return 0.0 if rank is None or rank > k else 1.0 / rank


def _footprint(index: Any, before_mb: float, add_s: float, scratch: str, first_query: np.ndarray, graph: bool,
               build_threads: int, progress: Callable[[str], None], expansion_search: int = EXPANSION_SEARCH) -> dict[str, Any]:
    """Build times and memory of an index just filled in ``add_s`` seconds (RSS growth from ``before_mb``), and of
    its graph when ``graph`` (default candidates ``expansion_search``); its size on disk and save / open times (saved
    under ``scratch``)."""
    _, flat_s = timed(index._flat)
    _, build_s = timed(index._qgrams)
    after_build = rss_mb()
    flat, offsets = index._flat()
    grams = index._qgrams()
    array_bytes = (flat.nbytes + offsets.nbytes + index._codes.nbytes + grams.indptr.nbytes + grams.postings.nbytes
                   + grams.lengths.nbytes)
    ids_bytes = sum(sys.getsizeof(i) for i in index._ids[:1000]) / 1000 * len(index) + index._ids.nbytes
    row = {"items": len(index), "tokens_per_item": float(np.diff(offsets).mean()), "add_s": add_s,
           "flatten_s": flat_s[0], "bigram_build_s": build_s[0], "array_bytes_per_item": array_bytes / len(index),
           "ids_bytes_per_item": ids_bytes / len(index), "rss_growth_mb": after_build - before_mb}
    if graph:  # the fast path becomes the graph: search(top_k) walks it, candidates=C explores C items
        _, graph_s = timed(lambda: index.build_graph(threads=build_threads, expansion_search=expansion_search))
        row["graph_build_s"], row["graph_build_threads"] = graph_s[0], build_threads
        row["graph_expansion_search"] = expansion_search
        row["graph_bytes_per_item"] = len(index._graph.to_bytes()) / len(index)
        row["rss_growth_mb"] = rss_mb() - before_mb
        progress(f"  graph over {len(index):,} items built in {graph_s[0]:.0f} s")
    folder = os.path.join(scratch, f"index-{len(index)}")
    shutil.rmtree(folder, ignore_errors=True)
    _, save_s = timed(lambda: index.save(folder))
    row["save_s"] = save_s[0]
    row["disk_mb"] = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)) / 2**20
    opened, open_s = timed(lambda: type(index).load(folder))
    row["open_s"] = open_s[0]
    _, first_s = timed(lambda: opened.search(first_query, distance=DISTANCES[0], top_k=10))
    row["opened_first_search_s"] = first_s[0]
    return row


def _query_set(index: Any, queries: list[np.ndarray], query_labels: list[str], distance: str, *, repeats: int,
               exhaustive_queries: int, candidates: Sequence[int], graph: bool) -> dict[str, Any]:
    """Latency, recall@10 and MRR@10 of one query set under one distance: fast path, exhaustive, approximate."""
    index._qgrams()  # built before the timings
    fast_t, full_t, recalls, stage1, rr_fast, rr_full, verified = [], [], [], [], [], [], []
    approx: dict[int, dict[str, list[float]]] = {c: {"t": [], "recall": [], "rr": []} for c in candidates}
    # one untimed search first: the first of a distance in a process compiles its kernels (the graph's weighted
    # metric: ~1.3 s), a one-time cost reported apart from the per-query latencies
    _, first_s = timed(lambda: index.search(queries[0], distance=distance, top_k=10))
    index._cache.pop("scans", None)  # the fast path's record of full-scan answers: each query set starts fresh
    for qi, (q, lab) in enumerate(zip(queries, query_labels)):
        fast, t = timed(lambda: index.search(q, distance=distance, top_k=10), repeats)
        fast_t.append(statistics.median(t))
        rr_fast.append(rr_at_k(fast, lab))
        if qi >= exhaustive_queries:
            continue
        if graph:
            verified.append(max(10, index._graph.expansion_search))
        else:
            stage1.append(fast.path == "bigram filter")
            verified.append(len(index) if fast.verified is None else fast.verified)
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
    return {
        "fast_p50_ms": 1e3 * float(np.percentile(paired, 50)), "fast_p95_ms": 1e3 * float(np.percentile(paired, 95)),
        "fast_p50_ms_all_queries": 1e3 * float(np.percentile(fast_t, 50)), "first_search_ms": 1e3 * first_s[0],
        "exhaustive_p50_ms": 1e3 * float(np.percentile(full_t, 50)),
        "exhaustive_p95_ms": 1e3 * float(np.percentile(full_t, 95)),
        "recall_at_10": float(np.mean(recalls)), "min_recall_at_10": float(np.min(recalls)),
        "recall_at_10_per_query": recalls,
        "bigram_stage_fraction": float(np.mean(stage1)) if stage1 else float("nan"),
        "verified_per_query": float(np.mean(verified)),
        "queries": len(queries), "exhaustive_queries": len(full_t),
        "mrr_at_10_fast": float(np.mean(rr_fast[:len(rr_full)])), "mrr_at_10_exhaustive": float(np.mean(rr_full)),
        "approximate": {str(c): {"p50_ms": 1e3 * float(np.percentile(o["t"], 50)),
                                 "p95_ms": 1e3 * float(np.percentile(o["t"], 95)),
                                 "recall_at_10": float(np.mean(o["recall"])),
                                 "min_recall_at_10": float(np.min(o["recall"])), "mrr_at_10": float(np.mean(o["rr"])),
                                 "recall_at_10_per_query": o["recall"]}
                        for c, o in approx.items()},
    }


def bench_size(items: list[np.ndarray], labels: list[str], query_sets: dict[str, tuple[list, list]],
               costs: np.ndarray, *, scratch: str, repeats: int = 3, exhaustive_queries: int = 30,
               candidates: Sequence[int] = (), graph: bool = False, build_threads: int = 0,
               expansion_search: int = EXPANSION_SEARCH, progress: Callable[[str], None] = _print) -> dict[str, Any]:
    """One size's row: :func:`_footprint` of an index of ``items``, then every query set under every distance."""
    from ..retrieval import Wav2TokIndex

    gc.collect()
    before = rss_mb()
    index = Wav2TokIndex(vocab_size=len(costs), vocab_name="bench-scale", substitution_costs=costs)
    _, add_s = timed(lambda: index.add(items, labels=labels))
    row = _footprint(index, before, add_s[0], scratch, query_sets["real"][0][0], graph, build_threads, progress,
                     expansion_search)
    index.fast_search_min_items = 1
    for (set_name, (queries, query_labels)), distance in itertools.product(query_sets.items(), DISTANCES):
        row[f"{set_name}/{distance}"] = _query_set(index, queries, query_labels, distance, repeats=repeats,
                                                   exhaustive_queries=exhaustive_queries, candidates=candidates,
                                                   graph=graph)
        progress(f"  {len(index):>9,} {set_name} {distance}: {row[f'{set_name}/{distance}']}")
    shutil.rmtree(os.path.join(scratch, f"index-{len(index)}"), ignore_errors=True)
    return row


def real_corpus_mrr(seeds: list[np.ndarray], labels: list[str], queries: list[np.ndarray], query_labels: list[str],
                    costs: np.ndarray, vocab: int) -> dict[str, Any]:
    """MRR of the real queries against the real token strings only: full ranking vs fast top-10 (forced)."""
    from ..retrieval import Wav2TokIndex
    from ..retrieval.metrics import mean_reciprocal_rank

    index = Wav2TokIndex(vocab_size=vocab, vocab_name="bench-scale", substitution_costs=costs)
    index.add(seeds, labels=labels)
    out: dict[str, Any] = {"items": len(index), "queries": len(queries)}
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


def scale_markdown(report: dict[str, Any]) -> str:
    """The tables of a :func:`run_scale_benchmark` report."""
    lines = ["# Search at scale (`scripts/bench_scale.py`)", "",
             f"Command: `{report['command']}`", "",
             f"Database: {TOKEN_CORPORA[report.get('corpus', 'mastmelody')]}; near copies: SYNTHETIC mutations "
             "(0-10% edits) of random database items (re-encoded / duplicate audio). One core, one query at a time, "
             "top_k=10.", "",
             *(["**Fast path = the graph** (`Wav2TokIndex.build_graph()`, APPROXIMATE: HNSW built with the normalised "
                "ED and walked with the ranking's own normalised distance (plain or weighted), exact re-score of its "
                "best max(5k, 50) candidates and of any string over 64 tokens; 'exact distances / query' = graph "
                "candidates (its default `expansion_search`); C below = candidates the graph explores, at least "
                "`expansion_search`). Graph built in "
                + ", ".join(f"{r['graph_build_s']:.0f} s ({r['items']:,} items, {r['graph_build_threads']} threads, "
                            f"expansion_search {r.get('graph_expansion_search', 512)})" for r in report["sizes"])
                + ".", ""] if report["sizes"] and "graph_build_s" in
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


def write_report(output: str, report: dict[str, Any],
                 render: Callable[[dict[str, Any]], str] | None = None) -> None:
    """``<output>.json`` and ``<output>.md`` (the tables, by ``render``; default :func:`scale_markdown`)."""
    with open(output + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(output + ".md", "w") as f:
        f.write((render or scale_markdown)(report))


def run_scale_benchmark(corpus: TokenCorpus, costs: np.ndarray, sizes: Sequence[int], *, output: str, scratch: str,
                        command: str, repeats: int = 3, exhaustive_queries: int = 30, candidates: Sequence[int] = (),
                        graph: bool = False, build_threads: int = 0, expansion_search: int = EXPANSION_SEARCH, seed: int = 0,
                        progress: Callable[[str], None] = _print) -> dict[str, Any]:
    """Grow ``corpus`` to each of ``sizes`` (ascending) and :func:`bench_size` it with the real queries and as many
    near copies; ``costs`` are the model's substitution costs. The report (``command`` recorded in it) is written to
    ``<output>.json`` / ``.md`` after every size, so a long run keeps what it measured; indexes are saved under
    ``scratch``. Returns the report."""
    from ..retrieval import kernels

    os.makedirs(scratch, exist_ok=True)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    queries, query_labels = corpus.queries, corpus.query_labels
    report: dict[str, Any] = {
        "command": command, "corpus": corpus.corpus, "platform": platform.platform(),
        "cpu_affinity": len(os.sched_getaffinity(0)),
        "numba_threads": kernels.numba.get_num_threads(), "seed_strings": len(corpus.seeds), "queries": len(queries),
        "real_corpus": real_corpus_mrr(corpus.seeds, corpus.labels, queries, query_labels, costs, len(costs)),
        "sizes": []}
    progress(str(report["real_corpus"]))
    rng = np.random.default_rng(seed + 1)
    near = near_token_table(costs)
    for size in sorted(sizes):
        items, item_labels = grow(corpus.seeds, corpus.labels, size, costs, seed)
        query_sets = {"real": (queries, query_labels), "near": near_copies(items, item_labels, len(queries), near, rng)}
        report["sizes"].append(bench_size(items, item_labels, query_sets, costs, scratch=scratch, repeats=repeats,
                                          exhaustive_queries=exhaustive_queries, candidates=candidates, graph=graph,
                                          build_threads=build_threads, expansion_search=expansion_search,
                                          progress=progress))
        del items, item_labels
        report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        write_report(output, report)
    return report


def merge_reports(paths: Sequence[str]) -> dict[str, Any]:
    """One report from the report JSONs of runs of different sizes (the first one's settings, every size)."""
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    return {**reports[0], "command": " + ".join(r["command"] for r in reports),
            "sizes": sorted((row for r in reports for row in r["sizes"]), key=lambda row: row["items"])}
