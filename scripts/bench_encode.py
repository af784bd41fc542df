"""Tokenisation speed: real-time factor and milliseconds per query clip, batched, on this machine's CPU cores.

Times a randomly initialised default-config ``Wav2TokModel`` (weights do not change the speed) on
``--num-clips`` clips of ``--clip-s`` seconds (synthetic hum-like audio), plus the retrieval baselines for the
paper's "infer" column. Hub baselines that cannot be loaded here are reported as ``skipped: <reason>``
(set ``HF_HUB_OFFLINE=1`` to fail fast without network).

Usage:
    python scripts/bench_encode.py --output bench_encode.json
    python scripts/bench_encode.py --num-clips 8 --no-baselines   # quicker
"""

from __future__ import annotations

import argparse
import json
import os


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-clips", type=int, default=32)
    parser.add_argument("--clip-s", type=float, default=8.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-baselines", action="store_true", help="time the wav2tok model only")
    parser.add_argument("--no-hub", action="store_true", help="do not try the Hub CTC baselines")
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args(argv)
    for flag in ("num_clips", "clip_s", "batch_size", "threads", "repeats"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
    import torch

    from wav2tok_hf.benchmarks.encode_speed import encode_speed

    torch.set_num_threads(args.threads)
    report, markdown = encode_speed(args.num_clips, args.clip_s, args.batch_size, args.repeats,
                                    baselines=not args.no_baselines, hub=not args.no_hub)
    print(markdown)
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), **report}, f, indent=2)
        print(f"wrote {args.output}")
    return report


if __name__ == "__main__":
    main()
