"""Mean ± standard deviation over seeds of ablation tables written by scripts/run_ablations.sh.

    python scripts/summarize_seeds.py runs/ablations-200steps-seed0/benchmark/ablation_essen.json \
        runs/ablations-200steps-seed1/benchmark/ablation_essen.json ... [--distance normalized_levenshtein]

Only configs present in every file are summarised; prints a markdown table (synthetic / real as in the inputs).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", help="ablation_<corpus>.json files, one per seed")
    parser.add_argument("--distance", default="normalized_levenshtein", help="rows of this distance (default normalized_levenshtein)")
    args = parser.parse_args(argv)
    runs = [json.load(open(path, encoding="utf-8")) for path in args.tables]
    per_run = [{r["model"]: r for r in run["rows"] if r["distance"] == args.distance} for run in runs]
    models = [m for m in per_run[0] if all(m in rows for rows in per_run)]
    if not models:
        print("no config is present in every table", file=sys.stderr)
        return 2
    audio = "SYNTHETIC" if runs[0].get("synthetic") else "REAL"
    print(f"**{runs[0].get('corpus_name', runs[0]['corpus'])} ({audio} audio), {runs[0]['num_queries']} queries, "
          f"{len(runs)} seeds ({', '.join(str(r.get('seed')) for r in runs)}), {args.distance}: mean ± std**\n")
    print("| config | MRR V | MRR TS | MRR PS |\n|---|---|---|---|")
    for model in models:
        cells = []
        for condition in ("V", "TS", "PS"):
            values = np.array([rows[model][condition] for rows in per_run])
            cells.append(f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.3f}")
        print(f"| {model} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
