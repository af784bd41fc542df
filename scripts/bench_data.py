"""Benchmark the data recipes and augmentation: build time per corpus (small sizes) and augmentation throughput.

Prints a markdown table and writes the numbers as JSON. The shared corpora are looked up at ``<repo>/../shared/data``
(``--shared-data`` to override); corpora that are missing are reported as skipped.

    python scripts/bench_data.py --output bench_data.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="bench_data.json", help="JSON file to write (default bench_data.json)")
    parser.add_argument("--shared-data", default=str(REPO_ROOT.parent / "shared" / "data"))
    parser.add_argument("--essen-songs", type=int, nargs=3, default=(30, 5, 10), metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--clips", type=int, default=200, help="3 s clips per augmentation throughput run")
    args = parser.parse_args(argv)
    if args.clips < 1 or min(args.essen_songs) < 1:
        parser.error("--clips and --essen-songs must be positive")
    from wav2tok_hf.benchmarks.data_speed import data_speed

    report, markdown = data_speed(args.shared_data, args.essen_songs, args.clips)
    print(markdown)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return report


if __name__ == "__main__":
    main()
