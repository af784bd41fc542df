"""From an experiment YAML to a trained model: build (or reuse) the corpus, pair it, train, select on validation."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from ..benchmark import retrieval_set_from_split
from ..configuration_wav2tok import Wav2TokConfig
from .arguments import ExperimentConfig, training_arguments
from .trainer import TrainResult, Wav2TokTrainer

logger = logging.getLogger(__name__)

DATA_KEYS = {"corpus", "source", "cache_dir", "build", "pairs", "eval_max_queries", "eval_references_per_label", "train_kinds"}
SYNTHETIC_CORPORA = {"essen": True, "mastmelody": True, "speech-commands": False, "std": False}


def _recipes() -> dict[str, Any]:
    from ..data import prepare_essen, prepare_mastmelody, prepare_speech_commands

    return {"essen": prepare_essen, "mastmelody": prepare_mastmelody, "speech-commands": prepare_speech_commands}


def check_data_section(data: dict[str, Any]) -> None:
    """Reject unknown or missing keys of an experiment's ``data`` section before anything is built."""
    unknown = sorted(set(data) - DATA_KEYS)
    if unknown:
        raise ValueError(f"unknown data keys {unknown}; accepted: {sorted(DATA_KEYS)}")
    corpus = data.get("corpus")
    if corpus not in _recipes():
        raise ValueError(f"data.corpus={corpus!r}; accepted: {sorted(_recipes())}")
    if corpus != "essen" and not data.get("source"):
        raise ValueError(f"data.corpus={corpus!r} needs data.source=<folder or Hub id> (e.g. ../shared/data/...)")
    import dataclasses
    import inspect

    from ..data import Augmenter, PairDataset

    accepted = sorted(set(inspect.signature(PairDataset).parameters) - {"dataset", "sampling_rate", "seed"})
    pairs = data.get("pairs") or {}
    if not isinstance(pairs, dict) or set(pairs) - set(accepted):
        raise ValueError(f"data.pairs={pairs!r}: expected a mapping with keys among {accepted}")
    augmenter = pairs.get("augmenter")
    augmenter_keys = {f.name for f in dataclasses.fields(Augmenter)} - {"noise"}
    if augmenter is not None and (not isinstance(augmenter, dict) or set(augmenter) - augmenter_keys):
        raise ValueError(f"data.pairs.augmenter={augmenter!r}: expected a mapping with keys among {sorted(augmenter_keys)}")


def build_corpus(data: dict[str, Any]):
    """The corpus of an experiment as a ``DatasetDict``: loaded from ``cache_dir`` when built before, else built by
    its recipe (and saved to ``cache_dir`` when given)."""
    import datasets

    check_data_section(data)
    cache_dir = data.get("cache_dir")
    if cache_dir and os.path.isdir(cache_dir):
        logger.info("reusing corpus at %s", cache_dir)
        return datasets.load_from_disk(cache_dir)
    recipe = _recipes()[data["corpus"]]
    build = dict(data.get("build") or {})
    if "num_songs" in build:
        build["num_songs"] = tuple(build["num_songs"])
    args = () if data["corpus"] == "essen" else (data["source"],)
    logger.info("building corpus %s %s", data["corpus"], build)
    return recipe(*args, output_dir=cache_dir, **build)


def _main_process_first():
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return contextlib.nullcontext()
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available()).main_process_first()  # same cpu flag as the trainer's


def _initial_model(config: Wav2TokConfig, init_from: str | None, model_class: type):
    """A fresh model for ``config``, or the saved model ``init_from`` (folder or Hub id) after checking that its
    config agrees with ``config`` (fine-tuning)."""
    if init_from is None:
        return model_class(config)
    try:
        model = model_class.from_pretrained(init_from)
    except (OSError, ValueError) as error:
        raise ValueError(f"training.init_from={init_from!r} is not a loadable wav2tok model ({error})") from None
    differs = sorted(name for name in Wav2TokConfig.__annotations__
                     if getattr(model.config, name) != getattr(config, name))
    if differs:
        raise ValueError(f"training.init_from={init_from!r} has a model config that differs from the experiment's "
                         f"in {differs}; set those model keys to the saved model's values")
    return model


def prepare_training(experiment: ExperimentConfig):
    """Validate every section, then build (model, trainer) for an experiment. Nothing trains yet."""
    from ..data import PairDataset
    from ..modeling_wav2tok import Wav2TokModel

    known_model = set(Wav2TokConfig.__dataclass_fields__)
    unknown = sorted(set(experiment.model) - known_model)
    if unknown:
        raise ValueError(f"unknown model keys {unknown}; accepted Wav2TokConfig fields: {sorted(known_model)}")
    config = Wav2TokConfig(**experiment.model)
    args = training_arguments(experiment.training)
    check_data_section(experiment.data)
    with _main_process_first():  # under torchrun, rank 0 builds and caches the corpus; the others then load it
        corpus = build_corpus(experiment.data)
    for split in ("train", "validation"):
        if split not in corpus:
            raise ValueError(f"corpus has no {split!r} split (splits: {list(corpus)})")
    train = corpus["train"]
    kinds = experiment.data.get("train_kinds")
    if kinds:
        train = train.filter(lambda k: k in kinds, input_columns=["kind"])
    pair_options = dict(experiment.data.get("pairs") or {})
    if isinstance(pair_options.get("augmenter"), dict):  # YAML: augmenter: {semitones: [-6, 5], rates: [0.8, 1.5]}
        from ..data import Augmenter

        pair_options["augmenter"] = Augmenter(**{k: tuple(v) if isinstance(v, list) else v
                                                 for k, v in pair_options["augmenter"].items()})
    pairs = PairDataset(train, sampling_rate=config.sampling_rate, seed=args.seed, **pair_options)
    eval_set = retrieval_set_from_split(corpus["validation"], config.sampling_rate,
                                        max_queries=experiment.data.get("eval_max_queries"), seed=args.seed,
                                        max_references_per_label=experiment.data.get("eval_references_per_label"),
                                        synthetic=SYNTHETIC_CORPORA.get(experiment.data["corpus"], False),
                                        name=f"{experiment.name}/validation")
    import torch

    torch.manual_seed(args.seed)
    model = _initial_model(config, args.init_from, Wav2TokModel)
    return Wav2TokTrainer(model, args, pairs, eval_set=eval_set, experiment=experiment.to_dict()), corpus


def run_training(experiment: ExperimentConfig) -> tuple[TrainResult, Any]:
    """Train an experiment end to end; returns the result and the corpus (for testing on its test split)."""
    trainer, corpus = prepare_training(experiment)
    return trainer.train(), corpus
