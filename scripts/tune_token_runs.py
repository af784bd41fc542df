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
    from wav2tok_hf.benchmarks.token_runs import format_row, token_runs

    corpus = datasets.load_from_disk(args.corpus_dir)
    models = [(path, load_model_dir(path)) for path in args.model]
    report = token_runs(models, corpus["validation"], runs=args.runs, temperatures=args.temperatures,
                        cost_caps=args.cost_caps, key_search=args.key_search,
                        references_per_label=args.references_per_label, max_queries=args.max_queries, seed=args.seed,
                        progress=lambda row: print(format_row(row), flush=True))
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "token_runs.json"), "w", encoding="utf-8") as f:
        json.dump({"corpus_dir": args.corpus_dir, **report}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
