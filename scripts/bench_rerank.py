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
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="wav2tok model folder")
    parser.add_argument("--corpus-dir", required=True, help="a saved corpus (DatasetDict) with a test split")
    parser.add_argument("--references-per-label", type=int, default=None)
    parser.add_argument("--max-queries", type=int, default=60)
    parser.add_argument("--rerank", type=int, nargs="+", default=[2, 3, 5], help="shortlist sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output-dir", default="results/rerank-speed")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.corpus_dir):
        parser.error(f"--corpus-dir {args.corpus_dir!r} is not a folder; expected a saved corpus")

    import datasets
    import numpy as np

    from _common import load_model_dir
    from wav2tok_hf.retrieval.encoders import baseline_encoder
    from wav2tok_hf.retrieval.evaluation import retrieval_set_from_split
    from wav2tok_hf.retrieval import create_baseline
    from wav2tok_hf.retrieval.index import Wav2TokIndex

    split = datasets.load_from_disk(args.corpus_dir)["test"]
    data = retrieval_set_from_split(split, 8000, max_queries=args.max_queries, seed=0,
                                    max_references_per_label=args.references_per_label)
    model, contour = load_model_dir(args.model), create_baseline("pitch-contour-dtw")
    ids, labels = [str(i) for i in range(len(data.database))], list(data.database_labels)
    tokens = Wav2TokIndex.from_encoder(model)
    tokens.add_audio(model, list(data.database), sampling_rate=8000, ids=ids, labels=labels, store_frames=True)
    frames = Wav2TokIndex.from_encoder(contour)
    frames.add_audio(contour, list(data.database), sampling_rate=8000, ids=ids, labels=labels)
    query_tokens = model.encode(data.queries, sampling_rate=8000, batch_size=32)
    query_frames = model.embed(data.queries, sampling_rate=8000, batch_size=32)
    query_contours = baseline_encoder(contour).encode(data.queries, 8000)

    def best_of(search) -> float:
        search()  # warm-up (numba compilation)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            search()
            times.append((time.perf_counter() - start) / len(data.queries))
        return min(times)

    distance = "normalized_weighted_levenshtein"
    rows = {"tokens only": best_of(lambda: tokens.search(query_tokens, distance=distance))}
    for k in args.rerank:
        rows[f"tokens + re-rank top {k} (embedding DTW)"] = best_of(
            lambda k=k: tokens.search(query_tokens, distance=distance, rerank=k, query_frames=query_frames))
    rows["pitch-contour DTW, every item"] = best_of(lambda: frames.search(query_contours, distance="dtw"))
    dtw = rows["pitch-contour DTW, every item"]
    title = (f"{len(data.queries)} test queries vs {len(data.database)} items; mean token string length "
             f"{np.mean([len(t) for t in query_tokens]):.1f}; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}")
    lines = [f"**{title}**", "", "| search | ms/query | fraction of contour DTW |", "|---|---|---|"]
    lines += [f"| {name} | {1000 * s:.3f} | {s / dtw:.3f} |" for name, s in rows.items()]
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "bench_rerank.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.output_dir, "bench_rerank.json"), "w", encoding="utf-8") as f:
        json.dump({"title": title, "model": args.model, "search_s_per_query": rows}, f, indent=1)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
