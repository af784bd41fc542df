"""The wav2tok EM trainer on Accelerate: K-means E-steps, pair-based M-steps, resumable, selected by validation MRR."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..retrieval.evaluation import RetrievalSet, condition_sets, evaluate_encoder
from ..feature_extraction_wav2tok import Wav2TokFeatureExtractor
from ..modeling_wav2tok import Wav2TokModel, collapse_runs
from ..processing_wav2tok import Wav2TokProcessor
from ..configuration_wav2tok import Wav2TokConfig
from ..retrieval.index import WEIGHTED_DISTANCES
from ..saving import TRAINING_CONFIG_FILE, check_save_target, save_folder, saved_trainer_state
from .arguments import Wav2TokTrainingArguments
from .checkpoint import check_checkpoint, latest_checkpoint, load_checkpoint, save_checkpoint
from .kmeans import codebook_usage, spherical_kmeans
from .losses import (LossTerm, alignment_loss, consistency_loss, context_loss, ctc_loss, diversity_loss, dtw_alignment,
                     matching_loss,
                     smoothness_loss, weighted_total)

logger = logging.getLogger(__name__)
PAIR_KEYS = ("input_values", "input_values_prime")


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch: the data order is a pure function of (seed, epoch), so a resumed run sees
    exactly the batches an uninterrupted one would."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


class PairCollator:
    """Featurises a list of pair items into one padded batch of 2B sequences: the B first views, then the B second
    views (one encoder pass serves both views). ``key_jitter`` > 0 (pitch front end) moves each view's key reference
    by a uniform offset in ``±key_jitter`` semitones, drawn from a seed of ``(seed, the view's samples)``.
    ``context_crop_s=(shortest, longest)`` also cuts a sub-crop of each first view, starting on a frame, featurised on
    its own (``context_features`` / ``context_mask``; ``context_offset``: its first frame in the view), seeded the
    same way. ``masks=(frequency_masks, frequency_width, time_masks, time_width)`` applies SpecAugment to every view
    (:meth:`_mask`), after the pair alignment is taken from the unmasked features."""

    def __init__(self, feature_extractor: Wav2TokFeatureExtractor, align: bool = False, key_jitter: float = 0.0,
                 seed: int = 0, context_crop_s: tuple[float, float] | None = None,
                 masks: tuple[int, int, int, int] = (0, 0, 0, 0)):
        self.feature_extractor = feature_extractor
        self.align = align
        self.key_jitter, self.seed = key_jitter, seed
        self.context_crop_s = context_crop_s
        self.masks = masks

    def _view_rng(self, wave: np.ndarray, *stream: int) -> np.random.Generator:
        """The random draws of one view: seeded by ``(seed, the view's samples, stream)``, so a resumed run draws the
        same for the same view."""
        return np.random.default_rng([self.seed, zlib.crc32(wave.tobytes()), *stream])

    def _context_crops(self, waves: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
        """A sub-crop of each wave (``context_crop_s`` long, whole when shorter) and its first frame."""
        hop, rate = self.feature_extractor.hop_length, self.feature_extractor.sampling_rate
        crops, offsets = [], []
        for wave in waves:
            rng = self._view_rng(wave, 1)
            size = min(len(wave), int(rng.uniform(*self.context_crop_s) * rate))
            first = int(rng.integers(0, (len(wave) - size) // hop + 1))
            crops.append(wave[first * hop:first * hop + size])
            offsets.append(first)
        return crops, offsets

    def _mask(self, features: torch.Tensor, mask: torch.Tensor, waves: list[np.ndarray]) -> torch.Tensor:
        """SpecAugment: each view gets up to ``masks[0]`` bands of up to ``masks[1]`` features and up to ``masks[2]``
        spans of up to ``masks[3]`` frames set to 0 (the mean of normalised features), drawn from its own seed.
        Hand-written: torchaudio's masking is not installable here (its PyPI wheels are CUDA builds)."""
        bands, band_width, spans, span_width = self.masks
        features = features.clone()
        for b, wave in enumerate(waves):
            rng, frames = self._view_rng(wave, 2), int(mask[b].sum())
            for count, width, size, dim in ((bands, band_width, features.shape[2], 1), (spans, span_width, frames, 0)):
                for _ in range(count):
                    w = int(rng.integers(0, min(width, size) + 1))
                    features[b].narrow(dim, int(rng.integers(0, size - w + 1)), w).zero_()
        return features

    def _key_offsets(self, waves: list[np.ndarray]) -> list[float] | None:
        if not self.key_jitter:
            return None
        return [float(self._view_rng(w).uniform(-1, 1)) * self.key_jitter for w in waves]

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        waves = [np.asarray(item[PAIR_KEYS[0]], dtype=np.float32) for item in items]
        waves += [np.asarray(item[PAIR_KEYS[1]], dtype=np.float32) for item in items]
        features, mask = self.feature_extractor.featurize(waves, self._key_offsets(waves))
        batch = {"input_features": features, "attention_mask": mask.long()}
        if self.align:  # DTW of each pair's features: which frame of X' each frame of X corresponds to
            half, lengths = len(items), mask.sum(1)
            aligned = torch.full((half, features.shape[1]), -1, dtype=torch.long)
            for b in range(half):
                n, m = int(lengths[b]), int(lengths[half + b])
                aligned[b, :n] = dtw_alignment(features[b, :n], features[half + b, :m])
            batch["aligned"] = aligned
        if any(self.masks):
            batch["input_features"] = self._mask(features, mask, waves)
        if self.context_crop_s is not None:
            crops, offsets = self._context_crops(waves[:len(items)])
            context, context_mask = self.feature_extractor.featurize(crops)
            batch.update(context_features=context, context_mask=context_mask.long(),
                         context_offset=torch.tensor(offsets, dtype=torch.long))
        return batch


@dataclass
class TrainerState:
    """Progress that must survive a restart (saved as JSON with every checkpoint)."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_metric: float = -math.inf
    best_step: int = -1
    history: list[dict] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


@dataclass
class TrainResult:
    output_dir: str
    steps: int
    best_metric: float
    best_step: int
    history: list[dict]
    pairs_per_second: float


def _copy_folder(source: str, target: str, overwrite: bool) -> None:
    """Copy a saved model folder into ``target`` file by file atomically (`wav2tok_hf.saving.save_folder`)."""
    save_folder(lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True), target, overwrite=overwrite)


def _linear_schedule(warmup: int, total: int):
    """Linear warm-up to the peak at step ``warmup - 1``, then linear decay to 0 at ``total``. Hand-written because
    `transformers.get_linear_schedule_with_warmup` warms up as ``step / warmup`` (lr 0 at step 0), one step behind
    this ``(step + 1) / warmup``: it would change every warm-up step's learning rate, so no run would reproduce.

    >>> factor = _linear_schedule(warmup=2, total=6)
    >>> [factor(step) for step in range(7)]
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


@dataclass
class _Run:
    """What one `Wav2TokTrainer.train` call holds while it runs (built by `Wav2TokTrainer._prepare`)."""

    accelerator: Any
    model: torch.nn.Module  # as prepared by Accelerate: DDP-wrapped when distributed
    raw: Wav2TokModel  # the same model unwrapped
    optimizer: Any
    scheduler: Any
    loader: DataLoader
    sampler: EpochSampler
    params: list[torch.nn.Parameter]
    blank_logit: torch.nn.Parameter | None
    bar: Any
    start: float
    pairs_seen: int = 0
    running: dict[str, list[float]] = field(default_factory=dict)  # loss values since the last log


class _DDPView:
    """Why: the loss reads the model's config, codebook and similarity head, but its forward pass must go through
    the DDP wrapper (or gradients are not synchronised): calls go to the wrapper, attributes to the model."""

    def __init__(self, wrapped):
        self._wrapped = wrapped

    def __call__(self, *args, **kwargs):
        return self._wrapped(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._wrapped.module, name)


def model_config_fields(config: Wav2TokConfig) -> dict[str, Any]:
    """The `Wav2TokConfig` fields of a config: what a checkpoint must agree on to be resumed (not the bookkeeping
    that ``save_pretrained`` adds, such as ``architectures`` or ``dtype``)."""
    return {name: getattr(config, name) for name in Wav2TokConfig.__annotations__}


class Wav2TokTrainer:
    r"""Trains a [`Wav2TokModel`] from pairs of similar audio with the EM-like wav2tok procedure.

    * **E-step** (step 0 and every ``e_step_interval`` optimiser steps): eval mode, no grad, embed the frames of
      ``e_step_clips`` training clips, spherical K-means (K-means++ first, then warm-started from the codebook unless
      ``kmeans_init="new"``), install the centroids; usage (perplexity, dead codes re-seeded) is logged.
    * **M-step**: ``L = L_m + alpha * L_ctc(X, T') + beta * L_ctc(X', T)`` (+ the weighted diversity, smoothness,
      alignment and consistency terms of [`Wav2TokTrainingArguments`]), batched; one row per term in `loss_terms`.
    * Validation MRR on ``eval_set`` selects the model written to ``output_dir``.

    Args:
        model: the model to train (its config records how it was made).
        args: [`Wav2TokTrainingArguments`].
        train_dataset: a map-style dataset of dicts with ``input_values`` and ``input_values_prime`` (mono float32
            waves at the model's rate), e.g. `wav2tok_hf.data.PairDataset`; an optional ``set_epoch`` is called.
        eval_set: a [`RetrievalSet`] for model selection (optional: without it the last model is kept).
        experiment: the experiment dict, saved beside the model as ``training_config.json``.

    Example (a few steps on random noise):

    >>> import numpy as np, tempfile
    >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    >>> from wav2tok_hf.training import Wav2TokTrainer, Wav2TokTrainingArguments
    >>> rng = np.random.default_rng(0)
    >>> pairs = [{"input_values": rng.standard_normal(4000).astype("float32"),
    ...           "input_values_prime": rng.standard_normal(4000).astype("float32")} for _ in range(8)]
    >>> model = Wav2TokModel(Wav2TokConfig(sampling_rate=8000, hidden_size=16, embedding_dim=8, codebook_size=4))
    >>> out = tempfile.mkdtemp()
    >>> args = Wav2TokTrainingArguments(output_dir=out + "/m", max_steps=2, batch_size=4, e_step_clips=4,
    ...                                 report_to="none", progress_bar=False)
    >>> Wav2TokTrainer(model, args, pairs).train().steps
    2
    """

    def __init__(
        self,
        model: Wav2TokModel,
        args: Wav2TokTrainingArguments,
        train_dataset: Dataset | list,
        eval_set: RetrievalSet | None = None,
        experiment: dict[str, Any] | None = None,
    ):
        if len(train_dataset) == 0:
            raise ValueError("train_dataset is empty; a wav2tok trainer needs pairs of similar audio")
        first = train_dataset[0]
        if not isinstance(first, dict) or any(k not in first for k in PAIR_KEYS):
            keys = sorted(first) if isinstance(first, dict) else type(first).__name__
            raise ValueError(f"train_dataset items must be dicts with {PAIR_KEYS}; got {keys}")
        self.model, self.args, self.train_dataset, self.eval_set = model, args, train_dataset, eval_set
        self._eval_sets: dict[str, RetrievalSet] | None = None
        self.experiment = experiment or {}
        self.feature_extractor = Wav2TokFeatureExtractor.from_model_config(model.config)
        if args.key_jitter_semitones and model.config.feature_type != "pitch":
            raise ValueError(f"training.key_jitter_semitones={args.key_jitter_semitones!r} moves the pitch front end's "
                             f"key; this model's feature_type is {model.config.feature_type!r}")
        self.state = TrainerState()

    # ------------------------------------------------------------------ E-step
    @torch.no_grad()
    def e_step(self, model: Wav2TokModel, device: torch.device) -> dict[str, float]:
        """Re-estimate the codebook by spherical K-means over frame embeddings of a sample of training clips."""
        args = self.args
        generator = torch.Generator().manual_seed(args.seed * 7919 + self.state.step)
        n = min(args.e_step_clips, len(self.train_dataset))
        rows = torch.randperm(len(self.train_dataset), generator=generator)[:n].tolist()
        waves = []
        for r in rows:
            item = self.train_dataset[r]
            waves += [np.asarray(item[key], dtype=np.float32) for key in PAIR_KEYS]
        was_training = model.training
        model.eval()
        frames = []
        for start in range(0, len(waves), 32):
            features, mask = self.feature_extractor.featurize(waves[start : start + 32])
            z = model.embed_features(features.to(device), mask.sum(1).to(device))
            frames.append(z[mask.to(device)].float().cpu())
        model.train(was_training)
        x = torch.cat(frames)
        k = model.config.codebook_size
        fresh = args.kmeans_init == "new" or self.state.step == 0
        result = spherical_kmeans(x, k, init=None if fresh else model.codebook.cpu(), iterations=args.kmeans_iterations,
                                  generator=generator)
        model.set_codebook(result.centroids)
        usage = codebook_usage((x @ result.centroids.T).argmax(1), k)
        return {"e_step/perplexity": usage["perplexity"], "e_step/dead_codes_reseeded": float(result.reseeded),
                "e_step/inertia": result.inertia, "e_step/frames": float(len(x))}

    # ------------------------------------------------------------------ M-step
    @property
    def _needs_alignment(self) -> bool:
        """The alignment and consistency terms need each pair's DTW frame alignment from the collator."""
        return self.args.alignment_weight > 0 or self.args.consistency_weight > 0

    def pair_collator(self) -> PairCollator:
        """The collator of the training batches: pair alignment, key jitter, context crops and SpecAugment masks as
        the arguments ask."""
        args = self.args
        return PairCollator(self.feature_extractor, align=self._needs_alignment, key_jitter=args.key_jitter_semitones,
                            seed=args.seed,
                            context_crop_s=tuple(args.context_crop_s) if args.context_weight > 0 else None,
                            masks=(args.frequency_masks, args.frequency_mask_width, args.time_masks,
                                   args.time_mask_width))

    def compute_loss(self, model: Wav2TokModel, batch: dict[str, torch.Tensor], blank_logit) -> tuple[torch.Tensor, dict]:
        """The M-step loss of one batch of pairs and the logged value of each term (see `loss_terms`)."""
        return weighted_total(self.loss_terms(model, batch, blank_logit))

    def loss_terms(self, model: Wav2TokModel, batch: dict[str, torch.Tensor], blank_logit) -> list[LossTerm]:
        """The loss table, one (weight, name, term) row per term, summed in this order: adding a term is one row."""
        out = model(batch["input_features"], batch["attention_mask"], return_dict=True)
        half = out.logits.shape[0] // 2
        lengths = out.lengths
        with torch.no_grad():
            strings = [collapse_runs(out.frame_tokens[i, : lengths[i]])[0] for i in range(2 * half)]
        config, args = model.config, self.args
        z, logits, tokens = out.embeddings, out.logits, out.frame_tokens  # rows [:half] view X, [half:] view X'
        valid = torch.arange(logits.shape[1], device=lengths.device)[None, :] < lengths[:, None]
        head = model.similarity_head if config.similarity == "learned" else None
        ctc = functools.partial(ctc_loss, blank_logit=blank_logit, normalize=args.ctc_normalize)
        return [  # (weight, name, term); each view is trained towards the other view's token string
            LossTerm(config.alpha, "ctc_x", lambda: ctc(logits[:half], lengths[:half], strings[half:]), optional=False),
            LossTerm(config.beta, "ctc_x_prime", lambda: ctc(logits[half:], lengths[half:], strings[:half]),
                     optional=False),
            LossTerm(float(args.matching_loss), "matching", lambda: matching_loss(
                z[:half], z[half:], tokens[:half], tokens[half:], model.codebook, config.temperature, head)),
            LossTerm(args.diversity_weight, "diversity", lambda: diversity_loss(logits, valid)),
            LossTerm(args.smoothness_weight, "smoothness", lambda: smoothness_loss(z, lengths)),
            LossTerm(args.alignment_weight, "alignment", lambda: alignment_loss(
                z[:half], z[half:], batch["aligned"], args.alignment_temperature, args.alignment_frames)),
            LossTerm(args.consistency_weight, "consistency", lambda: consistency_loss(
                logits[:half], logits[half:], batch["aligned"])),
            LossTerm(args.context_weight, "context", lambda: context_loss(model, batch, logits[:half], lengths[:half])),
        ]

    # ------------------------------------------------------------------ validation and saving
    def evaluate(self, model: Wav2TokModel) -> dict[str, float]:
        """Validation retrieval MRR (``eval_distance`` over token strings; the mean over ``eval_conditions``, each also
        logged as ``eval/mrr_<condition>``) and token usage."""
        if self.eval_set is None:
            return {}

        def encode(waves, sr):
            return model.encode(waves, sampling_rate=sr, batch_size=32)

        if self._eval_sets is None:  # the transformed validation queries are made once, seeded
            self._eval_sets = condition_sets(self.eval_set, seed=self.args.seed,
                                             conditions=tuple(self.args.eval_conditions))
        metrics: dict[str, float] = {}
        costs = model.substitution_costs() if self.args.eval_distance in WEIGHTED_DISTANCES else None
        for condition, retrieval in self._eval_sets.items():
            result = evaluate_encoder(encode, retrieval, distance=self.args.eval_distance,
                                      vocab_size=model.config.codebook_size, substitution_costs=costs)
            metrics[f"eval/mrr_{condition}"] = result["mrr"]
            metrics[f"eval/top1_{condition}"] = result["top1"]
            metrics.setdefault("eval/query_tokens", result["mean_query_length"])
        tokens = torch.tensor([t for q in encode(self.eval_set.queries[:64], self.eval_set.sampling_rate) for t in q])
        usage = codebook_usage(tokens, model.config.codebook_size)
        conditions = list(self._eval_sets)
        metrics["eval/mrr"] = float(np.mean([metrics[f"eval/mrr_{c}"] for c in conditions]))
        metrics["eval/top1"] = float(np.mean([metrics[f"eval/top1_{c}"] for c in conditions]))
        metrics["eval/perplexity"] = usage["perplexity"]
        return metrics

    def save_model(self, model: Wav2TokModel, directory: str, overwrite: bool = True) -> None:
        """Write model + processor + the experiment/arguments that made it into ``directory``, file by file
        atomically, keeping any other files there (see `wav2tok_hf.saving.save_folder`)."""

        def write(tmp: str) -> None:
            model.save_pretrained(tmp)
            Wav2TokProcessor.from_model_config(model.config).save_pretrained(tmp)
            with open(os.path.join(tmp, TRAINING_CONFIG_FILE), "w", encoding="utf-8") as f:
                json.dump({"experiment": self.experiment, "training_arguments": self.args.to_dict(),
                           "trainer_state": {"step": self.state.step, "best_metric": self.state.best_metric,
                                             "best_step": self.state.best_step, "history": self.state.history}},
                          f, indent=1, default=str)

        save_folder(write, directory, overwrite=overwrite)

    # ------------------------------------------------------------------ the loop
    def _check_resume(self, checkpoint: str) -> None:
        before = check_checkpoint(checkpoint)
        now = json.loads(json.dumps(model_config_fields(self.model.config)))
        defaults = json.loads(json.dumps(model_config_fields(Wav2TokConfig())))  # fields added since the checkpoint
        keys = sorted(k for k in set(before) | set(now) if before.get(k, defaults.get(k)) != now.get(k))
        if keys:
            raise ValueError(f"cannot resume from {checkpoint}: its model config differs in {keys}")

    def train(self) -> TrainResult:
        """Run the EM loop to ``max_steps`` (resuming if asked), then write the selected model to ``output_dir``."""
        run = self._prepare()
        while self.state.step < self.args.max_steps:
            for batch in self._epoch_batches(run):
                self._maybe_e_step(run)
                self._train_step(run, batch)
                if not run.accelerator.sync_gradients:
                    continue  # gradients still accumulating: not an optimiser step yet
                self.state.step += 1
                run.bar.update(1)
                self._maybe_log(run)
                self._maybe_evaluate(run)
                self._maybe_save(run)
                if self.state.step >= self.args.max_steps:
                    break
            else:  # the epoch ran out
                self.state.epoch += 1
                self.state.batches_in_epoch = 0
        return self._finish(run)

    def _prepare(self) -> _Run:
        """Check the targets, build the accelerator, data loader, optimiser and schedule, and resume if asked."""
        from accelerate.utils import set_seed
        from tqdm.auto import tqdm

        args = self.args
        check_save_target(args.output_dir, overwrite=args.overwrite_output_dir, what="training.output_dir")
        check_save_target(args.run_dir, overwrite=True, what="training.run_dir")  # refuses only a path under a file
        if args.cpu_threads is not None and not torch.cuda.is_available():
            # Small LSTMs gain nothing from intra-op threads on CPU, and on a busy 2-core machine 2 threads made a
            # step 20-200x slower than 1 (spin-waiting): see scripts/bench_train.py.
            torch.set_num_threads(args.cpu_threads)
        accelerator = self._make_accelerator()
        set_seed(args.seed)
        resume = args.resume_from_checkpoint
        if resume == "latest":
            resume = latest_checkpoint(self.args.run_dir)
        if resume:
            self._check_resume(resume)

        sampler = EpochSampler(len(self.train_dataset), args.seed)
        loader = DataLoader(self.train_dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True,
                            collate_fn=self.pair_collator(), num_workers=args.num_workers,
                            # its own generator: a DataLoader iterator otherwise draws from the global RNG, so a resumed
                            # run's dropout/alignment draws would be shifted by one
                            generator=torch.Generator().manual_seed(args.seed))
        if len(loader) == 0:
            raise ValueError(f"train_dataset has {len(self.train_dataset)} pairs, fewer than batch_size={args.batch_size}")
        blank_logit = torch.nn.Parameter(torch.zeros(1)) if args.ctc_blank else None
        params = list(self.model.parameters()) + ([blank_logit] if blank_logit is not None else [])
        optimizer = torch.optim.AdamW(params, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
                                      eps=args.adam_epsilon, weight_decay=args.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _linear_schedule(args.warmup_steps, args.max_steps))
        model, optimizer, loader, scheduler = accelerator.prepare(self.model, optimizer, loader, scheduler)
        raw = accelerator.unwrap_model(model)
        if resume:
            saved = load_checkpoint(resume, rank=accelerator.process_index, model=raw, optimizer=optimizer,
                                    scheduler=scheduler, extra={"blank_logit": blank_logit} if blank_logit is not None else None)
            accelerator.step = saved.pop("accelerator_step")
            self.state.load_state_dict(saved)
            logger.info("resumed from %s at step %d", resume, self.state.step)
            if accelerator.is_main_process:
                self._restore_best(resume)
        if accelerator.is_main_process and args.report_to != "none":
            accelerator.init_trackers("wav2tok", config={k: v for k, v in args.to_dict().items() if isinstance(v, (int, float, str, bool))})

        bar = tqdm(total=args.max_steps, initial=self.state.step, disable=not (args.progress_bar and accelerator.is_main_process),
                   desc="wav2tok train")
        run = _Run(accelerator, model, raw, optimizer, scheduler, loader, sampler, params, blank_logit, bar,
                   start=time.perf_counter())
        model.train()
        return run

    def _make_accelerator(self):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        args = self.args
        mixed = args.mixed_precision if torch.cuda.is_available() else "no"
        if mixed != args.mixed_precision:
            logger.warning("mixed_precision=%s needs a GPU; training in fp32 on CPU", args.mixed_precision)
        # Some parameters are idle in the ablations (NoSim, Cos): let DDP tolerate them.
        ddp = DistributedDataParallelKwargs(find_unused_parameters=not args.matching_loss or self.model.config.similarity != "learned")
        return Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps, mixed_precision=mixed,
                           log_with=None if args.report_to == "none" else args.report_to,
                           project_dir=args.run_dir, kwargs_handlers=[ddp],
                           # stepped in _train_step once per optimiser step: Accelerate would step it once per process
                           step_scheduler_with_optimizer=False,
                           # torchrun without a GPU: Accelerate only goes multi-process (gloo) when told cpu=True
                           cpu=not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1)

    def _epoch_batches(self, run: _Run):
        """This epoch's batches, in the order fixed by (seed, epoch); after a resume, without those already seen."""
        run.sampler.set_epoch(self.state.epoch)
        if hasattr(run.loader, "set_epoch"):  # Accelerate's loader re-sets the sampler's epoch from its own counter,
            run.loader.set_epoch(self.state.epoch)  # which restarts at 0 after a resume
        if hasattr(self.train_dataset, "set_epoch"):
            self.train_dataset.set_epoch(self.state.epoch)
        if self.state.batches_in_epoch:
            return run.accelerator.skip_first_batches(run.loader, self.state.batches_in_epoch)
        return run.loader

    def _maybe_e_step(self, run: _Run) -> None:
        """The E-step at step 0 and every ``e_step_interval`` optimiser steps (then the first validation, at step 0)."""
        from accelerate.utils import broadcast

        accelerator, raw = run.accelerator, run.raw
        if self.state.step % self.args.e_step_interval != 0 or not accelerator.sync_gradients:
            return
        stats = self.e_step(raw, accelerator.device)
        if accelerator.num_processes > 1:  # every process must hold rank 0's codebook
            raw.set_codebook(broadcast(raw.codebook.clone(), from_process=0))
        accelerator.log(stats, step=self.state.step)
        if self.state.step == 0 and not self.state.history:
            self._evaluate_and_select(raw, accelerator)  # the starting point: K-means on the initial encoder

    def _train_step(self, run: _Run, batch: dict[str, torch.Tensor]) -> None:
        """One M-step batch: loss, backward, and (once the gradients are accumulated) clip, optimiser and schedule."""
        accelerator, args = run.accelerator, self.args
        with accelerator.accumulate(run.model):
            model = run.model if not hasattr(run.model, "module") else _DDPView(run.model)
            loss, logs = self.compute_loss(model, batch, run.blank_logit)
            accelerator.backward(loss)
            if accelerator.sync_gradients and args.max_grad_norm > 0:
                accelerator.clip_grad_norm_(run.params, args.max_grad_norm)
            run.optimizer.step()
            if accelerator.sync_gradients and not accelerator.optimizer_step_was_skipped:
                run.scheduler.step()  # the schedule counts optimiser steps, whatever the number of processes
            run.optimizer.zero_grad()
        self.state.batches_in_epoch += 1
        run.pairs_seen += batch["input_features"].shape[0] // 2
        for key, value in logs.items():
            run.running.setdefault(key, []).append(value)

    def _due(self, interval: int) -> bool:
        return self.state.step % interval == 0 or self.state.step == self.args.max_steps

    def _maybe_log(self, run: _Run) -> None:
        """Every ``logging_interval`` steps: the mean of each loss term since the last log, and the learning rate."""
        if not self._due(self.args.logging_interval):
            return
        means = {k: float(np.mean(v)) for k, v in run.running.items()}
        means["lr"] = run.scheduler.get_last_lr()[0]
        run.accelerator.log(means, step=self.state.step)
        run.bar.set_postfix(loss=f"{means['loss/total']:.3f}")
        run.running = {}

    def _maybe_evaluate(self, run: _Run) -> None:
        if self._due(self.args.eval_interval):
            self._evaluate_and_select(run.raw, run.accelerator)

    def _maybe_save(self, run: _Run) -> None:
        if self._due(self.args.save_interval):
            self._checkpoint(run.accelerator, run.raw, run.optimizer, run.scheduler, run.blank_logit)

    def _finish(self, run: _Run) -> TrainResult:
        """Save the last model beside the selected one, copy the selected one (or, without validation, the last) to
        ``output_dir``."""
        args, accelerator, raw = self.args, run.accelerator, run.raw
        run.bar.close()
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            self.save_model(raw, os.path.join(args.run_dir, "last"))  # the final model, beside the selected one
            best = os.path.join(args.run_dir, "best")
            if self.eval_set is not None and os.path.isdir(best):
                _copy_folder(best, args.output_dir, overwrite=args.overwrite_output_dir)
            else:
                self.save_model(raw, args.output_dir, overwrite=args.overwrite_output_dir)
        accelerator.end_training()
        elapsed = time.perf_counter() - run.start
        return TrainResult(args.output_dir, self.state.step, self.state.best_metric, self.state.best_step,
                           self.state.history, run.pairs_seen * accelerator.num_processes / max(elapsed, 1e-9))

    def _restore_best(self, checkpoint: str) -> None:
        """After a resume, this run's ``best`` holds the best step so far (copied from the resumed run's folder when
        this run folder has none), so that ``output_dir`` is the best over the whole history. When no saved model of
        that step is found, the selection restarts from the resumed step (a warning): the reported best step is
        always the model in ``output_dir``."""
        if self.state.best_step < 0:
            return
        best = os.path.join(self.args.run_dir, "best")
        source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(checkpoint))), "best")
        for folder in (best, source):
            if (saved_trainer_state(folder) or {}).get("step") == self.state.best_step:
                if folder != best:
                    _copy_folder(folder, best, overwrite=True)
                return
        logger.warning("resumed at step %d: the model of the best step so far (%d) is in neither %s nor %s; the "
                       "selection restarts from this step", self.state.step, self.state.best_step, best, source)
        self.state.best_metric, self.state.best_step = -math.inf, -1

    def _evaluate_and_select(self, raw: Wav2TokModel, accelerator) -> None:
        if self.eval_set is None or not accelerator.is_main_process:
            return
        was_training = raw.training
        raw.eval()  # the trainer owns this model: evaluate it in inference mode, then resume training
        try:
            metrics = self.evaluate(raw)
        finally:
            raw.train(was_training)
        metrics["step"] = self.state.step
        self.state.history.append(metrics)
        accelerator.log({k: v for k, v in metrics.items() if k != "step"}, step=self.state.step)
        logger.info("step %d: %s", self.state.step, {k: round(v, 4) for k, v in metrics.items()})
        if metrics["eval/mrr"] > self.state.best_metric:
            self.state.best_metric, self.state.best_step = metrics["eval/mrr"], self.state.step
            self.save_model(raw, os.path.join(self.args.run_dir, "best"))

    def _checkpoint(self, accelerator, raw: Wav2TokModel, optimizer, scheduler, blank_logit) -> None:
        """A pickle-free checkpoint (`wav2tok_hf.training.checkpoint`: model with codebook, optimizer, scheduler,
        RNG states of every process, trainer state) written to a partial directory, then renamed into place: a run
        killed mid-save never leaves a broken step_N."""
        target = os.path.join(self.args.run_dir, "checkpoints", f"step_{self.state.step}")
        partial = target + ".partial"
        if accelerator.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
            os.makedirs(partial)
        accelerator.wait_for_everyone()
        save_checkpoint(partial, rank=accelerator.process_index, main=accelerator.is_main_process, model=raw,
                        model_config=model_config_fields(raw.config), optimizer=optimizer, scheduler=scheduler,
                        trainer_state={**self.state.state_dict(), "accelerator_step": accelerator.step},
                        extra={"blank_logit": blank_logit} if blank_logit is not None else None)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            shutil.rmtree(target, ignore_errors=True)
            os.replace(partial, target)
        accelerator.wait_for_everyone()
