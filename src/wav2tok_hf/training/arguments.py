"""Training arguments and the experiment YAML format (``model`` / ``data`` / ``training`` sections)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

MIXED_PRECISION = ("no", "fp16", "bf16")
EVAL_CONDITIONS = ("V", "TS", "PS")


@dataclass
class Wav2TokTrainingArguments:
    """Everything about *how* a wav2tok model is trained (the model itself is a [`Wav2TokConfig`]).

    The paper's ablations are flags: ``matching_loss=False`` (NoSim), ``Wav2TokConfig.similarity="cosine"`` (Cos),
    ``ctc_blank=True`` (CTC with a blank), ``kmeans_init="new"`` (NewInit).

    Fine-tuning: ``init_from`` (a saved wav2tok model folder or Hub id) starts from that model's weights and codebook;
    its config must agree with the experiment's ``model`` section, except for the keys listed in ``init_from_changes``
    (settings that leave every weight's shape unchanged, e.g. the band of a frequency-convolution front end).

    Model selection: every ``eval_interval`` steps the validation MRR (``eval_distance`` over token strings) is the
    mean over ``eval_conditions`` of the validation queries: ``V`` as recorded, ``TS`` time-stretched, ``PS``
    pitch-shifted (the benchmark's query conditions, on validation queries only); the best model is kept.

    Example:
        >>> args = Wav2TokTrainingArguments(output_dir="out", max_steps=10)
        >>> args.warmup_steps
        1
    """

    output_dir: str = "wav2tok-model"
    # allow saving into an existing file or a non-empty folder that holds no wav2tok model (only the model's files
    # are written there; other files are kept)
    overwrite_output_dir: bool = False
    run_dir: str | None = None  # checkpoints + TensorBoard logs; default: "<output_dir>-run"
    max_steps: int = 1000
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-3
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    adam_epsilon: float = 1e-6
    weight_decay: float = 1e-2
    warmup_ratio: float = 0.08
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    # E-step
    e_step_interval: int = 150
    e_step_clips: int = 64
    kmeans_iterations: int = 20
    kmeans_init: str = "warm"
    # M-step
    matching_loss: bool = True
    ctc_blank: bool = False
    ctc_normalize: str = "frame"
    diversity_weight: float = 0.0
    smoothness_weight: float = 0.0
    alignment_weight: float = 0.0
    consistency_weight: float = 0.0  # token agreement of DTW-aligned frames (needs the alignment of the pair views)
    # pitch front end: each view's key reference moved by a uniform offset in +-this many semitones (tolerance of
    # key-estimation slips; drawn per view from a seed of (seed, the view's samples), so a resumed run draws the same)
    key_jitter_semitones: float = 0.0
    # context: token agreement between a random sub-crop of each first view, featurised on its own, and the same frames
    # inside the whole view (a word's tokens should not change with the words around it; docs/RESULTS.md 8a');
    # sub-crops last context_crop_s[0]..[1] seconds and start on a frame; drawn from a seed of (seed, the view's samples)
    context_weight: float = 0.0
    context_crop_s: list[float] = field(default_factory=lambda: [0.3, 1.0])
    # SpecAugment (Park et al. 2019) on every training view's features: up to this many frequency / time masks, each
    # up to *_width features / frames wide, set to the normalised features' mean (0); drawn from a seed of (seed, the
    # view's samples), so a resumed run masks the same; the E-step and validation see unmasked features
    frequency_masks: int = 0
    frequency_mask_width: int = 6
    time_masks: int = 0
    time_mask_width: int = 6
    alignment_frames: int = 32
    alignment_temperature: float = 0.1
    # bookkeeping
    eval_interval: int = 100
    eval_distance: str = "normalized_levenshtein"
    eval_conditions: list[str] = field(default_factory=lambda: ["V"])
    save_interval: int = 100
    logging_interval: int = 10
    seed: int = 0
    num_workers: int = 0
    cpu_threads: int | None = 1
    report_to: str = "tensorboard"
    resume_from_checkpoint: str | None = None
    init_from: str | None = None  # a saved wav2tok model (folder or Hub id) to fine-tune instead of a fresh model
    # model keys allowed to differ from init_from's config (its weights are loaded into the experiment's model; every
    # weight's shape must stay the same, e.g. the band of a frequency-convolution front end: fmax, n_semitones; or
    # codebook_size: the codebook is then re-fit by K-means at step 0)
    init_from_changes: list[str] = field(default_factory=list)
    progress_bar: bool = True

    def __post_init__(self):
        for spec in dataclasses.fields(self):  # YAML 1.1 reads `1e-3` (no dot) as a string: accept it for floats
            value = getattr(self, spec.name)
            if spec.type == "float" and isinstance(value, str):
                try:
                    setattr(self, spec.name, float(value))
                except ValueError:
                    raise ValueError(f"training.{spec.name}={value!r}; expected a number") from None
        positive = ("alignment_frames", "max_steps", "batch_size", "gradient_accumulation_steps", "e_step_interval", "e_step_clips",
                    "kmeans_iterations", "eval_interval", "save_interval", "logging_interval")
        counts = ("frequency_masks", "frequency_mask_width", "time_masks", "time_mask_width")
        for names, least, expected in ((positive, 1, "a positive integer"), (counts, 0, "an integer >= 0")):
            for name in names:
                value = getattr(self, name)
                if not isinstance(value, int) or isinstance(value, bool) or value < least:
                    raise ValueError(f"training.{name}={value!r}; expected {expected}")
        for name in ("learning_rate", "adam_epsilon"):
            if not (isinstance(getattr(self, name), (int, float)) and math.isfinite(getattr(self, name))
                    and getattr(self, name) > 0):
                raise ValueError(f"training.{name}={getattr(self, name)!r}; expected > 0 and finite")
        for name in ("weight_decay", "max_grad_norm", "diversity_weight", "smoothness_weight", "alignment_weight",
                     "consistency_weight", "key_jitter_semitones", "context_weight"):
            if not (isinstance(getattr(self, name), (int, float)) and math.isfinite(getattr(self, name))
                    and getattr(self, name) >= 0):
                raise ValueError(f"training.{name}={getattr(self, name)!r}; expected >= 0 and finite")
        crop = self.context_crop_s
        if not (isinstance(crop, (list, tuple)) and len(crop) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in crop) and 0 < crop[0] <= crop[1]):
            raise ValueError(f"training.context_crop_s={crop!r}; expected [shortest, longest] seconds, 0 < shortest "
                             "<= longest")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"training.warmup_ratio={self.warmup_ratio!r}; expected 0 <= warmup_ratio < 1")
        if not (0 < self.adam_beta1 < 1 and 0 < self.adam_beta2 < 1):
            raise ValueError("training.adam_beta1 / adam_beta2 must lie in (0, 1)")
        choices = {"mixed_precision": MIXED_PRECISION, "kmeans_init": ("warm", "new"),
                   "ctc_normalize": ("frame", "none"), "report_to": ("tensorboard", "none"),
                   "eval_distance": ("levenshtein", "normalized_levenshtein",
                                     "normalized_weighted_levenshtein")}
        for name, accepted in choices.items():
            if getattr(self, name) not in accepted:
                raise ValueError(f"training.{name}={getattr(self, name)!r}; accepted: {accepted}")
        if (not isinstance(self.eval_conditions, list) or not self.eval_conditions
                or any(c not in EVAL_CONDITIONS for c in self.eval_conditions)
                or len(set(self.eval_conditions)) != len(self.eval_conditions)):
            raise ValueError(f"training.eval_conditions={self.eval_conditions!r}; expected a non-empty list of distinct "
                             f"conditions from {EVAL_CONDITIONS}")
        if not isinstance(self.init_from_changes, list) or not all(isinstance(k, str) for k in self.init_from_changes):
            raise ValueError(f"training.init_from_changes={self.init_from_changes!r}; expected a list of model keys")
        if self.init_from_changes and self.init_from is None:
            raise ValueError("training.init_from_changes needs training.init_from (the model whose weights are loaded)")
        if self.cpu_threads is not None and (not isinstance(self.cpu_threads, int) or self.cpu_threads <= 0):
            raise ValueError(f"training.cpu_threads={self.cpu_threads!r}; expected a positive integer or null (torch's default)")
        if self.num_workers < 0:
            raise ValueError(f"training.num_workers={self.num_workers!r}; expected >= 0")
        if self.run_dir is None:
            self.run_dir = os.path.normpath(self.output_dir) + "-run"

    @property
    def warmup_steps(self) -> int:
        return max(1, round(self.warmup_ratio * self.max_steps))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ExperimentConfig:
    """One experiment: ``model`` (Wav2TokConfig fields), ``data`` (recipe and pairing), ``training``."""

    model: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    name: str = "experiment"
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = ("model", "data", "training")


def _safe_yaml(stream: Any, where: str) -> Any:
    """``yaml.safe_load`` with its errors (syntax, or tags such as ``!!python/object`` that could run code) turned
    into a one-line ``ValueError`` naming the file or override."""
    try:
        return yaml.safe_load(stream)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"{where}: not valid YAML{at}: {problem}; accepted: plain YAML mappings, lists, strings and "
                         "numbers (no !!python or other tags)") from None


def _parse_value(text: str) -> Any:
    return _safe_yaml(text, f"override value {text!r}") if text != "" else ""


def _read_yaml(path: str | os.PathLike, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read one experiment YAML; ``base: other.yaml`` (relative to this file) is read first and its sections are
    updated key by key, so an ablation config states only what it changes. ``name``, ``description`` and
    ``training.output_dir`` belong to the file that states them and are not inherited (see :func:`load_experiment`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"experiment config not found: {path}")
    with open(path, encoding="utf-8") as f:
        raw = _safe_yaml(f, os.fspath(path)) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with sections {SECTIONS}, got {type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = os.path.join(os.path.dirname(os.path.abspath(path)), base)
    if base_path in seen:
        raise ValueError(f"{path}: circular base chain through {base}")
    merged = _read_yaml(base_path, (*seen, base_path))
    merged.pop("name", None)
    merged.pop("description", None)
    if isinstance(merged.get("training"), dict):
        merged["training"].pop("output_dir", None)
    for key, value in raw.items():
        if key in SECTIONS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_experiment(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment YAML (following its ``base:`` chain) and apply ``section.key=value`` overrides (values
    parsed as YAML).

    ``name`` defaults to the file's name without ``.yaml``, ``training.output_dir`` to ``wav2tok-<name>`` (relative
    to the working directory): each config writes its own folder unless it (or an override) states one.

    Unknown top-level keys, sections that are not mappings and malformed overrides raise ``ValueError`` before
    anything is built; unknown keys inside sections are caught when the section is turned into its object.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "exp.yaml"
        >>> _ = path.write_text("name: demo\\nmodel: {codebook_size: 25}\\ntraining: {max_steps: 100}\\n")
        >>> load_experiment(path, ["training.max_steps=5"]).training["max_steps"]
        5
    """
    raw = _read_yaml(path)
    if "stages" in raw:
        raise ValueError(f"{path} lists training stages, not one experiment: run it with `wav2tok train --config "
                         f"{path}` (or read it with load_stages)")
    allowed = set(SECTIONS) | {"name", "description"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {unknown}; accepted: {sorted(allowed)}")
    for section in SECTIONS:
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ValueError(f"{path}: section {section!r} must be a mapping")
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in SECTIONS or not name:
            raise ValueError(f"override {item!r}: expected section.key=value with section in {SECTIONS}")
        raw[section][name] = _parse_value(value)
    raw.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    raw["training"].setdefault("output_dir", f"wav2tok-{raw['name']}")
    return ExperimentConfig(**raw)


STAGE_CHAIN_KEYS = ("training.output_dir", "training.init_from")


def load_stages(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> list[ExperimentConfig]:
    """The experiments that ``wav2tok train --config path`` trains, in order: the one experiment of an experiment
    YAML, or those of a stages YAML (``stages: [first.yaml, second.yaml, ...]``, paths relative to it, and an
    optional ``description``) whose every later stage continues from the one before (its ``training.init_from`` is
    the previous stage's ``training.output_dir``; checked here, before anything trains). Overrides apply to every
    stage, except the keys that chain them (``training.output_dir``, ``training.init_from``), which are refused.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.yaml").write_text("model: {codebook_size: 25}\\n")
        >>> _ = (folder / "b.yaml").write_text("base: a.yaml\\ntraining: {init_from: wav2tok-a}\\n")
        >>> _ = (folder / "ab.yaml").write_text("stages: [a.yaml, b.yaml]\\n")
        >>> [(e.name, e.training["output_dir"]) for e in load_stages(folder / "ab.yaml", ["training.max_steps=5"])]
        [('a', 'wav2tok-a'), ('b', 'wav2tok-b')]
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"experiment config not found: {path}")
    with open(path, encoding="utf-8") as f:
        raw = _safe_yaml(f, os.fspath(path)) or {}
    if not isinstance(raw, dict) or "stages" not in raw:
        return [load_experiment(path, overrides)]
    stages = raw["stages"]
    if set(raw) - {"stages", "description"} or not isinstance(stages, list) or not stages \
            or not all(isinstance(stage, str) for stage in stages):
        raise ValueError(f"{path}: a stages config holds `stages: [experiment.yaml, ...]` (a non-empty list of paths "
                         f"relative to it) and an optional description; got keys {sorted(raw)}")
    chained = [item for item in overrides if item.partition("=")[0] in STAGE_CHAIN_KEYS]
    if chained:
        raise ValueError(f"overrides {chained}: {list(STAGE_CHAIN_KEYS)} chain the stages of {path} and cannot be "
                         "overridden; train the stages one by one with their own configs instead")
    folder = os.path.dirname(os.path.abspath(path))
    experiments = [load_experiment(os.path.join(folder, stage), overrides) for stage in stages]
    for before, after in itertools.pairwise(experiments):
        expected, got = before.training["output_dir"], after.training.get("init_from")
        if got is None or os.path.normpath(got) != os.path.normpath(expected):
            raise ValueError(f"{path}: stage {after.name!r} has training.init_from={got!r}; it must continue from the "
                             f"stage before it, training.init_from={expected!r} ({before.name!r}'s output_dir)")
    return experiments


def training_arguments(section: dict[str, Any]) -> Wav2TokTrainingArguments:
    """Build [`Wav2TokTrainingArguments`] from a ``training`` section, rejecting unknown keys by name."""
    known = {f.name for f in dataclasses.fields(Wav2TokTrainingArguments)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"unknown training keys {unknown}; accepted: {sorted(known)}")
    return Wav2TokTrainingArguments(**section)
