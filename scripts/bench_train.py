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
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PHASES = ("data", "features", "dtw", "forward", "losses", "backward", "e_step")


class _ForwardTimer:
    """Accumulates the wall time of a module's forward passes (pre-hook to hook)."""

    def __init__(self, module: torch.nn.Module):
        self.total, self._start = 0.0, None
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_):
        self._start = time.perf_counter()

    def _post(self, *_):
        self.total += time.perf_counter() - self._start


def _corpus(experiment, songs: int):
    import datasets

    from wav2tok_hf.data import prepare_essen

    cache = experiment.data.get("cache_dir")
    if cache and not os.path.isabs(cache):
        cache = str(REPO_ROOT / cache)
    if cache and os.path.isdir(cache):
        return datasets.load_from_disk(cache)["train"], f"{cache} (train split)"
    build = dict(experiment.data.get("build") or {})
    corpus = prepare_essen(num_songs=(songs, 1, 1), queries_per_song=build.get("queries_per_song", 4), seed=0)
    return corpus["train"], f"Essen built on the fly ({songs} songs)"


def _encoder_comparison(features: torch.Tensor, mask: torch.Tensor, hidden: int, layers: int, repeats: int) -> dict:
    """Forward + backward of the encoder alone: ours vs torch's fused bidirectional LSTM (packed and padded)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from wav2tok_hf.modeling_wav2tok import Wav2TokBiLSTM

    lengths = mask.sum(1)
    torch.manual_seed(0)
    ours = Wav2TokBiLSTM(features.shape[-1], hidden, layers, dropout=0.0)
    fused = torch.nn.LSTM(features.shape[-1], hidden // 2, num_layers=layers, bidirectional=True, batch_first=True)

    def run_ours():
        ours(features, lengths).sum().backward()

    def run_packed():
        packed = pack_padded_sequence(features, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(fused(packed)[0], batch_first=True, total_length=features.shape[1])
        out.sum().backward()

    def run_padded():
        fused(features)[0].sum().backward()

    timings = {}
    for name, fn in (("ours_exact_padded", run_ours), ("fused_packed", run_packed), ("fused_padded_inexact", run_padded)):
        timings[name] = _common.median_seconds(fn, repeats)
    return {
        "batch": list(features.shape),
        "seconds": timings,
        "fused_packed_over_ours": timings["fused_packed"] / timings["ours_exact_padded"],
        "fused_padded_over_ours": timings["fused_padded_inexact"] / timings["ours_exact_padded"],
    }


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

    torch.set_num_threads(args.threads)
    from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    from wav2tok_hf.data import PairDataset
    from wav2tok_hf.training import PairCollator, Wav2TokTrainer, load_experiment, training_arguments
    from wav2tok_hf.training.losses import dtw_alignment

    experiment = load_experiment(args.config, args.overrides)
    config = Wav2TokConfig(**experiment.model)
    run_dir = tempfile.mkdtemp(prefix="bench-train-")
    targs = training_arguments({**experiment.training, "output_dir": os.path.join(run_dir, "m"), "report_to": "none",
                                "progress_bar": False})
    train, corpus_name = _corpus(experiment, args.songs)
    pairs = PairDataset(train, sampling_rate=config.sampling_rate, seed=targs.seed, **(experiment.data.get("pairs") or {}))
    torch.manual_seed(targs.seed)
    model = Wav2TokModel(config)
    trainer = Wav2TokTrainer(model, targs, pairs)
    collate = PairCollator(trainer.feature_extractor, align=False)
    forward_timer = _ForwardTimer(model)
    blank = torch.nn.Parameter(torch.zeros(1)) if targs.ctc_blank else None
    params = list(model.parameters()) + ([blank] if blank is not None else [])
    optimizer = torch.optim.AdamW(params, lr=targs.learning_rate, betas=(targs.adam_beta1, targs.adam_beta2),
                                  eps=targs.adam_epsilon, weight_decay=targs.weight_decay)
    order = np.random.default_rng(0).permutation(len(pairs))

    start = time.perf_counter()
    trainer.e_step(model, torch.device("cpu"))  # step 0: K-means++ from scratch
    trainer.state.step = 1
    first_e_step = time.perf_counter() - start
    start = time.perf_counter()
    trainer.e_step(model, torch.device("cpu"))  # later E-steps: warm-started
    e_step_s = time.perf_counter() - start

    rows, last_batch = [], None
    model.train()
    for step in range(args.steps + 1):  # step 0 is a warm-up
        picks = [int(order[(step * targs.batch_size + i) % len(order)]) for i in range(targs.batch_size)]
        timing = {}
        t0 = time.perf_counter()
        items = [pairs[i] for i in picks]
        t1 = time.perf_counter()
        batch = collate(items)
        t2 = time.perf_counter()
        if targs.alignment_weight > 0:
            features, lengths, half = batch["input_features"], batch["attention_mask"].sum(1), len(items)
            aligned = torch.full((half, features.shape[1]), -1, dtype=torch.long)
            for b in range(half):
                n, m = int(lengths[b]), int(lengths[half + b])
                aligned[b, :n] = dtw_alignment(features[b, :n], features[half + b, :m])
            batch["aligned"] = aligned
        t3 = time.perf_counter()
        forward_timer.total = 0.0
        loss, logs = trainer.compute_loss(model, batch, blank)
        t4 = time.perf_counter()
        loss.backward()
        if targs.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, targs.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad()
        t5 = time.perf_counter()
        timing = {"data": t1 - t0, "features": t2 - t1, "dtw": t3 - t2, "forward": forward_timer.total,
                  "losses": (t4 - t3) - forward_timer.total, "backward": t5 - t4,
                  "e_step": e_step_s / targs.e_step_interval}
        if step > 0:
            rows.append(timing)
        last_batch = batch

    per_step = {phase: statistics.median(r[phase] for r in rows) for phase in PHASES}
    total = sum(per_step.values())
    result = {
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "config": args.config, "overrides": args.overrides, "corpus": corpus_name,
        "shapes": {"batch_size": targs.batch_size, "sequences_per_step": 2 * targs.batch_size,
                   "frames_max": int(last_batch["input_features"].shape[1]),
                   "feature_size": int(last_batch["input_features"].shape[2]), "feature_type": config.feature_type,
                   "encoder": f"{config.encoder_type} {config.num_layers}x{config.hidden_size}",
                   "codebook_size": config.codebook_size, "e_step_interval": targs.e_step_interval,
                   "e_step_clips": targs.e_step_clips},
        "steps_timed": len(rows),
        "ms_per_step": {phase: round(1000 * v, 2) for phase, v in per_step.items()},
        "ms_per_step_total": round(1000 * total, 2),
        "pairs_per_second": round(targs.batch_size / total, 2),
        "e_step_seconds": {"first_kmeans_plus_plus": round(first_e_step, 3), "warm_started": round(e_step_s, 3)},
        "last_losses": {k: round(v, 4) for k, v in logs.items()},
    }
    if not args.no_encoder_comparison:
        result["encoder_only"] = _encoder_comparison(last_batch["input_features"], last_batch["attention_mask"].bool(),
                                                     config.hidden_size, config.num_layers, args.encoder_repeats)

    print(f"wav2tok training step, {result['shapes']['encoder']}, batch {targs.batch_size} pairs "
          f"({result['shapes']['frames_max']} frames max, {config.feature_type} features), "
          f"{torch.get_num_threads()} torch thread(s), median of {len(rows)} steps\n")
    print("| phase | ms / step | share |")
    print("|---|---:|---:|")
    for phase in PHASES:
        print(f"| {phase} | {1000 * per_step[phase]:.1f} | {100 * per_step[phase] / total:.0f} % |")
    print(f"| **total** | **{1000 * total:.1f}** | {result['pairs_per_second']} pairs/s |")
    if "encoder_only" in result:
        enc = result["encoder_only"]
        print(f"\nEncoder alone, forward + backward on {enc['batch']} (median of {args.encoder_repeats}):\n")
        print("| encoder | ms | vs ours |")
        print("|---|---:|---:|")
        base = enc["seconds"]["ours_exact_padded"]
        for name, seconds in enc["seconds"].items():
            print(f"| {name} | {1000 * seconds:.1f} | {seconds / base:.2f}x |")
    print("\n" + json.dumps(result, indent=1))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
