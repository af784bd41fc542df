"""Profile wav2tok training steps on the CPU, phase by phase, for an experiment's shapes (``scripts/bench_train.py``).

Runs the trainer's own pieces (``PairDataset`` items, ``PairCollator``/``featurize``, ``dtw_alignment``,
``Wav2TokTrainer.compute_loss``, ``Wav2TokTrainer.e_step``) for a few optimiser steps and reports the median
milliseconds per step of each phase (:data:`PHASES`), plus, optionally, the encoder alone (forward + backward) three
ways: our exact padded BiLSTM, torch's fused bidirectional LSTM on a packed batch (exact) and on the padded batch
(fast, but the backward direction reads padding).

Usage (about a minute on two cores; the corpus is the config's ``data.cache_dir`` if it exists, else a small Essen
corpus built on the fly)::

    report, markdown = profile_training_step("configs/released/qbsh.yaml", ["training.batch_size=8"], steps=2)
    print(markdown)
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .timing import median_seconds

PHASES = ("data", "features", "dtw", "forward", "losses", "backward", "e_step")
"""The phases of a step, in order: decode + pairs, features, DTW alignment, encoder forward, the rest of the loss,
backward + clipping + optimiser step, and one E-step amortised over ``e_step_interval``."""


class _ForwardTimer:
    """Accumulates the wall time of a module's forward passes (pre-hook to hook)."""

    def __init__(self, module: torch.nn.Module):
        self.total, self._start = 0.0, 0.0
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_: Any) -> None:
        self._start = time.perf_counter()

    def _post(self, *_: Any) -> None:
        self.total += time.perf_counter() - self._start


@dataclass
class _Rig:
    """Everything one profiled step touches, built as the trainer builds it."""

    args: Any  # Wav2TokTrainingArguments
    config: Any  # Wav2TokConfig
    model: Any  # Wav2TokModel
    trainer: Any  # Wav2TokTrainer
    pairs: Any  # PairDataset
    collate: Any  # PairCollator
    forward_timer: _ForwardTimer
    blank: torch.nn.Parameter | None
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    order: np.ndarray
    corpus: str


def _training_split(experiment: Any, songs: int, root: str | os.PathLike | None) -> tuple[Any, str]:
    """The experiment's cached training split (``data.cache_dir``, relative to ``root``), else Essen built now."""
    import datasets

    from ..data import prepare_essen

    cache = experiment.data.get("cache_dir")
    if cache and not os.path.isabs(cache) and root is not None:
        cache = str(Path(root) / cache)
    if cache and os.path.isdir(cache):
        return datasets.load_from_disk(cache)["train"], f"{cache} (train split)"
    build = dict(experiment.data.get("build") or {})
    corpus = prepare_essen(num_songs=(songs, 1, 1), queries_per_song=build.get("queries_per_song", 4), seed=0)
    return corpus["train"], f"Essen built on the fly ({songs} songs)"


def _rig(experiment: Any, run_dir: str, songs: int, root: str | os.PathLike | None) -> _Rig:
    from .. import Wav2TokConfig, Wav2TokModel
    from ..training import PairCollator, Wav2TokTrainer, training_arguments
    from ..training.experiment import _pairs

    config = Wav2TokConfig(**experiment.model)
    args = training_arguments({**experiment.training, "output_dir": os.path.join(run_dir, "m"), "report_to": "none",
                               "progress_bar": False})
    train, corpus = _training_split(experiment, songs, root)
    pairs = _pairs(train, experiment.data.get("pairs"), config.sampling_rate, args.seed)
    torch.manual_seed(args.seed)
    model = Wav2TokModel(config)
    trainer = Wav2TokTrainer(model, args, pairs)
    blank = torch.nn.Parameter(torch.zeros(1)) if args.ctc_blank else None
    params = list(model.parameters()) + ([blank] if blank is not None else [])
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
                                  eps=args.adam_epsilon, weight_decay=args.weight_decay)
    return _Rig(args, config, model, trainer, pairs, PairCollator(trainer.feature_extractor, align=False),
                _ForwardTimer(model), blank, params, optimizer, np.random.default_rng(0).permutation(len(pairs)),
                corpus)


def _time_e_steps(rig: _Rig) -> tuple[float, float]:
    """Seconds of the first E-step (K-means++ from scratch) and of a later, warm-started one."""
    start = time.perf_counter()
    rig.trainer.e_step(rig.model, torch.device("cpu"))
    rig.trainer.state.step = 1
    first = time.perf_counter() - start
    start = time.perf_counter()
    rig.trainer.e_step(rig.model, torch.device("cpu"))
    return first, time.perf_counter() - start


def _aligned(batch: dict[str, torch.Tensor], half: int) -> torch.Tensor:
    """DTW alignment of each pair's features, as the trainer's collator computes it."""
    from ..training.losses import dtw_alignment

    features, lengths = batch["input_features"], batch["attention_mask"].sum(1)
    aligned = torch.full((half, features.shape[1]), -1, dtype=torch.long)
    for b in range(half):
        n, m = int(lengths[b]), int(lengths[half + b])
        aligned[b, :n] = dtw_alignment(features[b, :n], features[half + b, :m])
    return aligned


def _time_step(rig: _Rig, step: int, e_step_s: float) -> tuple[dict[str, float], dict, dict[str, float]]:
    """One optimiser step: ``(seconds per phase, batch, loss logs)``."""
    args = rig.args
    picks = [int(rig.order[(step * args.batch_size + i) % len(rig.order)]) for i in range(args.batch_size)]
    t0 = time.perf_counter()
    items = [rig.pairs[i] for i in picks]
    t1 = time.perf_counter()
    batch = rig.collate(items)
    t2 = time.perf_counter()
    if args.alignment_weight > 0:
        batch["aligned"] = _aligned(batch, len(items))
    t3 = time.perf_counter()
    rig.forward_timer.total = 0.0
    loss, logs = rig.trainer.compute_loss(rig.model, batch, rig.blank)
    t4 = time.perf_counter()
    loss.backward()
    if args.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(rig.params, args.max_grad_norm)
    rig.optimizer.step()
    rig.optimizer.zero_grad()
    t5 = time.perf_counter()
    forward = rig.forward_timer.total
    return ({"data": t1 - t0, "features": t2 - t1, "dtw": t3 - t2, "forward": forward, "losses": (t4 - t3) - forward,
             "backward": t5 - t4, "e_step": e_step_s / args.e_step_interval}, batch, logs)


def _encoder_comparison(features: torch.Tensor, mask: torch.Tensor, hidden: int, layers: int, repeats: int) -> dict:
    """Forward + backward of the encoder alone: ours vs torch's fused bidirectional LSTM (packed and padded)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from ..modeling_wav2tok import Wav2TokBiLSTM

    lengths = mask.sum(1)
    torch.manual_seed(0)
    ours = Wav2TokBiLSTM(features.shape[-1], hidden, layers, dropout=0.0)
    fused = torch.nn.LSTM(features.shape[-1], hidden // 2, num_layers=layers, bidirectional=True, batch_first=True)

    def run_ours() -> None:
        ours(features, lengths)[-1].sum().backward()  # the last layer's output is the encoding

    def run_packed() -> None:
        packed = pack_padded_sequence(features, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(fused(packed)[0], batch_first=True, total_length=features.shape[1])
        out.sum().backward()

    def run_padded() -> None:
        fused(features)[0].sum().backward()

    timings = {}
    for name, fn in (("ours_exact_padded", run_ours), ("fused_packed", run_packed), ("fused_padded_inexact", run_padded)):
        timings[name] = median_seconds(fn, repeats)
    return {
        "batch": list(features.shape),
        "seconds": timings,
        "fused_packed_over_ours": timings["fused_packed"] / timings["ours_exact_padded"],
        "fused_padded_over_ours": timings["fused_padded_inexact"] / timings["ours_exact_padded"],
    }


def profile_training_step(config: str | os.PathLike, overrides: Sequence[str] = (), *, steps: int = 3,
                          songs: int = 12, encoder_repeats: int = 2, compare_encoders: bool = True,
                          root: str | os.PathLike | None = None) -> tuple[dict[str, Any], str]:
    """Time ``steps`` optimiser steps (after one warm-up step) of the experiment YAML ``config`` with ``overrides``.

    Args:
        config: experiment YAML; ``overrides`` are ``section.key=value`` strings, as for ``wav2tok train``.
        steps: timed steps; the report holds the median of each phase.
        songs: songs of the Essen corpus built when the config's ``data.cache_dir`` does not exist.
        encoder_repeats: repeats of the encoder-only comparison (``compare_encoders``).
        root: folder a relative ``data.cache_dir`` is relative to (default: the working directory).

    Returns ``(report, markdown)``: the JSON-ready report (``machine``, ``shapes``, ``ms_per_step`` per phase,
    ``ms_per_step_total``, ``pairs_per_second``, ``e_step_seconds``, ``last_losses``, and ``encoder_only``) and the
    tables. Torch runs on the threads the caller set (``torch.set_num_threads``).
    """
    from ..training import load_experiment

    experiment = load_experiment(config, list(overrides))
    with tempfile.TemporaryDirectory(prefix="bench-train-") as run_dir:
        rig = _rig(experiment, run_dir, songs, root)
        first_e_step, e_step_s = _time_e_steps(rig)
        rows = []
        rig.model.train()
        for step in range(steps + 1):  # step 0 is a warm-up
            timing, batch, logs = _time_step(rig, step, e_step_s)
            if step > 0:
                rows.append(timing)
    per_step = {phase: statistics.median(r[phase] for r in rows) for phase in PHASES}
    total = sum(per_step.values())
    args, model_config = rig.args, rig.config
    report = {
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "config": os.fspath(config), "overrides": list(overrides), "corpus": rig.corpus,
        "shapes": {"batch_size": args.batch_size, "sequences_per_step": 2 * args.batch_size,
                   "frames_max": int(batch["input_features"].shape[1]),
                   "feature_size": int(batch["input_features"].shape[2]), "feature_type": model_config.feature_type,
                   "encoder": f"{model_config.encoder_type} {model_config.num_layers}x{model_config.hidden_size}",
                   "codebook_size": model_config.codebook_size, "e_step_interval": args.e_step_interval,
                   "e_step_clips": args.e_step_clips},
        "steps_timed": len(rows),
        "ms_per_step": {phase: round(1000 * v, 2) for phase, v in per_step.items()},
        "ms_per_step_total": round(1000 * total, 2),
        "pairs_per_second": round(args.batch_size / total, 2),
        "e_step_seconds": {"first_kmeans_plus_plus": round(first_e_step, 3), "warm_started": round(e_step_s, 3)},
        "last_losses": {k: round(v, 4) for k, v in logs.items()},
    }
    if compare_encoders:
        report["encoder_only"] = _encoder_comparison(batch["input_features"], batch["attention_mask"].bool(),
                                                     model_config.hidden_size, model_config.num_layers, encoder_repeats)
    return report, _markdown(report, per_step, encoder_repeats)


def _markdown(report: dict[str, Any], per_step: dict[str, float], encoder_repeats: int) -> str:
    """The phase table (from the unrounded seconds ``per_step``) and the encoder-only table, as printed."""
    shapes, total = report["shapes"], sum(per_step.values())
    lines = [f"wav2tok training step, {shapes['encoder']}, batch {shapes['batch_size']} pairs "
             f"({shapes['frames_max']} frames max, {shapes['feature_type']} features), "
             f"{report['machine']['torch_threads']} torch thread(s), median of {report['steps_timed']} steps", "",
             "| phase | ms / step | share |", "|---|---:|---:|"]
    lines += [f"| {phase} | {1000 * per_step[phase]:.1f} | {100 * per_step[phase] / total:.0f} % |" for phase in PHASES]
    lines.append(f"| **total** | **{1000 * total:.1f}** | {report['pairs_per_second']} pairs/s |")
    if "encoder_only" in report:
        enc = report["encoder_only"]
        base = enc["seconds"]["ours_exact_padded"]
        lines += ["", f"Encoder alone, forward + backward on {enc['batch']} (median of {encoder_repeats}):", "",
                  "| encoder | ms | vs ours |", "|---|---:|---:|"]
        lines += [f"| {name} | {1000 * seconds:.1f} | {seconds / base:.2f}x |"
                  for name, seconds in enc["seconds"].items()]
    return "\n".join(lines)
