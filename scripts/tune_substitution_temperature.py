"""Validation MRR of trained models under the codebook-weighted edit distance, for several substitution temperatures.

    python scripts/tune_substitution_temperature.py --model checkpoints/wav2tok-qbsh \
        --corpus-dir data_cache/essen-1000-50-100 [--references-per-label 1] [--temperatures 0.3 0.4 0.5 0.6 0.8]

Each model is scored on its corpus's *validation* split (never test) with V / TS / PS queries, as the trainer
selects models: plain length-normalised ED first, then ``normalized_weighted_levenshtein`` at each temperature
(``Wav2TokConfig.substitution_temperature``). Prints a markdown table and writes it with a JSON next to it.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = _common.benchmark_parser(__doc__)
    parser.add_argument("--model", action="append", required=True, metavar="DIR", help="a saved model (repeatable)")
    parser.add_argument("--corpus-dir", action="append", required=True,
                        help="the saved corpus of each --model, in the same order (one for all when given once)")
    parser.add_argument("--references-per-label", type=int,
                        help="database items kept per label (as the models' data.eval_references_per_label)")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[0.3, 0.4, 0.5, 0.6, 0.8])
    _common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    _common.setup_logging(args.verbose)
    if any(t <= 0 for t in args.temperatures):
        parser.error(f"--temperatures must be positive, got {args.temperatures}")
    n = len(args.model)
    corpus_dirs = args.corpus_dir * n if len(args.corpus_dir) == 1 else args.corpus_dir
    if len(corpus_dirs) != n:
        parser.error("give --corpus-dir once, or once per --model")

    from wav2tok_hf.benchmarks.substitution_temperature import substitution_temperatures
    from wav2tok_hf.retrieval.encoders import apply_threads

    apply_threads(args.threads)
    models = _common.load_models(parser, args.model)
    corpora: dict = {}
    for corpus_dir in dict.fromkeys(corpus_dirs):
        loaded = _common.load_cached_corpus(parser, corpus_dir)
        if not loaded:
            parser.error(f"--corpus-dir {corpus_dir!r} does not exist; build it with `wav2tok data` or a benchmark")
        corpora[corpus_dir] = loaded[0]
    start = time.perf_counter()
    rows, table = substitution_temperatures(
        [(name, model, d, corpora[d]["validation"]) for (name, model, _), d in zip(models, corpus_dirs)],
        temperatures=args.temperatures, references_per_label=args.references_per_label,
        max_queries=args.max_queries, seed=args.seed)
    print(table)
    os.makedirs(args.output_dir, exist_ok=True)
    _common.write_text(os.path.join(args.output_dir, "substitution_temperature.md"), table + "\n")
    _common.write_json(os.path.join(args.output_dir, "substitution_temperature.json"),
                       {"rows": rows, "seed": args.seed, "seconds": time.perf_counter() - start})
    print(f"\nwritten to {args.output_dir} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
