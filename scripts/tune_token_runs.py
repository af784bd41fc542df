#!/usr/bin/env python
"""Choose ``Wav2TokConfig.max_token_run`` (tokens that keep durations) on a corpus's VALIDATION split.

For each model: DTW over its frame embeddings (the upper reference), then its tokens with runs collapsed (``0``)
or split into one token per at most N frames, ranked by ``normalized_levenshtein`` and
``normalized_weighted_levenshtein`` (at the model's substitution temperature and cost cap, and each
``--temperatures`` x ``--cost-caps`` value); ``--key-search`` adds each token row searched at those query pitch shifts
(``Wav2TokConfig.query_pitch_shifts``).
Frames are computed once per clip and every N derives its tokens from them, exactly as ``model.encode`` with that
``max_token_run``. Prints a table and writes ``token_runs.json`` (one row per model x N x ranking, MRR per
condition and their mean).

Usage:
    python scripts/tune_token_runs.py --model checkpoints/wav2tok-mastmelody \
        --corpus-dir data_cache/mastmelody-50-15-35 --references-per-label 1 --runs 0 2 3 4 6 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, metavar="DIR", help="model folder (repeatable)")
    parser.add_argument("--corpus-dir", required=True, help="a saved corpus (DatasetDict) with a validation split")
    parser.add_argument("--references-per-label", type=int, default=None, help="database items kept per label")
    parser.add_argument("--max-queries", type=int, default=200)
    parser.add_argument("--runs", type=int, nargs="+", default=[0, 2, 3, 4, 6, 8], help="max_token_run values")
    parser.add_argument("--temperatures", type=float, nargs="*", default=[], help="extra substitution temperatures")
    parser.add_argument("--cost-caps", type=float, nargs="*", default=[],
                        help="extra substitution cost caps (Wav2TokConfig.substitution_cost_cap, 0 < cap <= 2)")
    parser.add_argument("--key-search", type=float, nargs="+", action="append", default=[], metavar="SEMITONES",
                        help="also rank every token row with a key search over these query pitch shifts (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="results/token-runs")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.corpus_dir):
        parser.error(f"--corpus-dir {args.corpus_dir!r} is not a folder; expected a saved corpus")
    if any(n < 0 for n in args.runs) or any(t <= 0 for t in args.temperatures) or any(
            not 0 < c <= 2 for c in args.cost_caps):
        parser.error("--runs must be >= 0, --temperatures > 0 and --cost-caps in (0, 2]")

    import datasets

    from _common import load_model_dir
    from wav2tok_hf.retrieval.encoders import Encoder, with_key_search
    from wav2tok_hf.retrieval.evaluation import condition_sets, retrieval_set_from_split, run_benchmark
    from wav2tok_hf.modeling_wav2tok import codebook_substitution_costs, collapse_runs, split_long_runs

    corpus = datasets.load_from_disk(args.corpus_dir)
    retrieval = retrieval_set_from_split(corpus["validation"], 8000, max_queries=args.max_queries, seed=args.seed,
                                         max_references_per_label=args.references_per_label)
    sets = condition_sets(retrieval, seed=args.seed)
    rows = []
    for path in args.model:
        model = load_model_dir(path)
        cache: dict[int, tuple] = {}

        def frames(waves, sr, model=model, cache=cache):
            todo = [w for w in waves if id(w) not in cache]
            for w, out in zip(todo, model.frame_outputs(todo, sampling_rate=sr, batch_size=32) if todo else []):
                cache[id(w)] = (w, out)  # the wave is kept so that its id stays unique
            return [cache[id(w)][1] for w in waves]

        encoders = [Encoder(f"{path} embeddings", lambda w, sr, f=frames: [e for _, e in f(w, sr)], "dtw")]
        own = (model.config.substitution_temperature, model.config.substitution_cost_cap)
        costs = {own: model.substitution_costs()}
        for tau in sorted({own[0], *args.temperatures}):
            for cap in sorted({own[1], *args.cost_caps}):
                costs.setdefault((tau, cap), codebook_substitution_costs(model.codebook.numpy(), tau, cap))
        for run in args.runs:
            def encode(w, sr, run=run, f=frames):
                return [split_long_runs(*collapse_runs(tokens), run)[0] for tokens, _ in f(w, sr)]
            encoders.append(Encoder(f"{path} N={run}", encode, "normalized_levenshtein", model.config.codebook_size))
            for (tau, cap), matrix in costs.items():
                encoders.append(Encoder(f"{path} N={run} tau={tau:g} cap={cap:g}", encode,
                                        "normalized_weighted_levenshtein",
                                        model.config.codebook_size, substitution_costs=matrix))
        tokens = encoders[1:]
        for shifts in args.key_search:
            encoders += with_key_search(tokens, shifts)[1::2]
        for row in run_benchmark(encoders, sets):
            row["mean"] = (row["V"] + row["TS"] + row["PS"]) / 3
            rows.append(row)
            print(f"{row['model']:60s} {row['distance']:32s} V {row['V']:.3f} TS {row['TS']:.3f} "
                  f"PS {row['PS']:.3f} mean {row['mean']:.3f}", flush=True)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "token_runs.json"), "w", encoding="utf-8") as f:
        json.dump({"corpus_dir": args.corpus_dir, "split": "validation", "references_per_label":
                   args.references_per_label, "num_queries": len(retrieval.queries), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
