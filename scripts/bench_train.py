"""Profile one wav2tok training step on this machine's CPU, phase by phase, for an experiment's shapes.

Runs the trainer's own pieces (``PairDataset`` items, ``PairCollator``/``featurize``, ``dtw_alignment``,
``Wav2TokTrainer.compute_loss``, ``Wav2TokTrainer.e_step``) for ``--steps`` optimiser steps of
``configs/released/qbsh.yaml`` (8 s hums at 8 kHz, hop 256, pitch features, 2-layer BiLSTM 128, K=32, batch 16) and
prints per-step milliseconds:

* data      -- decode the FLAC clips of the batch and form the pairs (``PairDataset.__getitem__``)
* features  -- ``featurize`` of the 2B waves (STFT + pitch features)
* dtw       -- DTW alignment of each pair's features (only when ``alignment_weight > 0``)
* forward   -- the encoder forward pass inside ``compute_loss`` (timed with module hooks)
* losses    -- the rest of ``compute_loss`` (CTC, matching, alignment, diversity terms)
* backward  -- ``loss.backward()`` + gradient clipping + optimiser step
* e_step    -- one E-step (embed ``e_step_clips`` training pairs + K-means), amortised over ``e_step_interval``

It also times the encoder alone, forward + backward on the same batch, three ways: our exact padded BiLSTM (each
sequence reversed within its length), torch's fused ``nn.LSTM(bidirectional=True)`` with ``pack_padded_sequence``
(the exact textbook alternative), and the fused LSTM on the padded batch (fast, but the backward direction reads
padding: not exact). Results go to stdout as a markdown table and, with ``--output``, as JSON.

    python scripts/bench_train.py --steps 3                       # ~1-2 min on 2 cores
    python scripts/bench_train.py --config configs/paper/paper.yaml --steps 2 --output bench_train.json

The corpus is the config's ``data.cache_dir`` when it exists, else a small Essen corpus built on the fly
(``--songs``). ``--threads`` defaults to 1: on 2 cores shared with other jobs (load ~3.6), 2 intra-op threads made
a qbsh step take 43 s instead of 0.5 s (OpenMP threads spin and get descheduled); compare with ``--threads 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "released" / "qbsh.yaml"), help="experiment YAML")
    parser.add_argument("--steps", type=int, default=3, help="timed optimiser steps (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on 2 shared cores a second thread made steps ~85x slower)")
    parser.add_argument("--songs", type=int, default=12, help="songs of the on-the-fly corpus (no cache_dir)")
    parser.add_argument("--encoder-repeats", type=int, default=2, help="repeats of the encoder-only comparison")
    parser.add_argument("--no-encoder-comparison", action="store_true")
    parser.add_argument("--output", help="also write the results as JSON here")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.batch_size=8")
    args = parser.parse_args(argv)
    for flag in ("steps", "threads", "songs", "encoder_repeats"):
        _common.check_positive(parser, getattr(args, flag), "--" + flag.replace("_", "-"))
    import torch

    from wav2tok_hf.benchmarks.train_step import profile_training_step
    from wav2tok_hf.training import load_experiment

    try:
        load_experiment(args.config, args.overrides)  # a missing config or a malformed override, before any work
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    result, markdown = profile_training_step(args.config, args.overrides, steps=args.steps, songs=args.songs,
                                             encoder_repeats=args.encoder_repeats,
                                             compare_encoders=not args.no_encoder_comparison, root=REPO_ROOT)
    print(markdown)
    print("\n" + json.dumps(result, indent=1))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
