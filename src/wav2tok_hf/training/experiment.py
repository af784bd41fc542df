"""From an experiment YAML to a trained model: build (or reuse) the corpus, pair it, train, select on validation."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from ..checks import check_positive_int
from ..retrieval.evaluation import retrieval_set_from_split
from ..configuration_wav2tok import Wav2TokConfig
from ..saving import check_save_target
from .arguments import ExperimentConfig, training_arguments
from .trainer import TrainResult, Wav2TokTrainer

logger = logging.getLogger(__name__)

DATA_KEYS = {"corpus", "source", "cache_dir", "build", "pairs", "eval_max_queries", "eval_references_per_label", "train_kinds",
             "pairs_per_epoch", "mix"}
MIX_KEYS = {"corpus", "source", "cache_dir", "build", "split", "pairs", "pairs_per_epoch", "min_seconds", "validation"}
"""Keys of one ``data.mix`` entry: another corpus (or another split of one) whose pairs are mixed into training."""
DEGRADER_KEYS = {"conditions", "probability", "options", "noise_source", "rooms"}
"""Keys of ``pairs.degrader``: users'-recording conditions (`wav2tok_hf.data.degrade`) applied after the augmenter;
``noise_source`` is a Speech Commands folder whose training half of ``_silence_`` clips is the noise bank, ``rooms``
the number of simulated room impulse responses (seed 0; the benchmark's rooms use other seeds)."""
SYNTHETIC_CORPORA = {"essen": True, "mastmelody": True, "speech-commands": False, "speechocean762": False, "std": False}


def _recipes() -> dict[str, Any]:
    from ..data import prepare_essen, prepare_mastmelody, prepare_speech_commands, prepare_speechocean762

    return {"essen": prepare_essen, "mastmelody": prepare_mastmelody, "speech-commands": prepare_speech_commands,
            "speechocean762": prepare_speechocean762}


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
    _check_pairs(data.get("pairs"), "data.pairs")
    _check_size(data.get("pairs_per_epoch"), "data.pairs_per_epoch")
    mix = data.get("mix") or []
    if not isinstance(mix, list):
        raise ValueError(f"data.mix={mix!r}: expected a list of mappings with keys among {sorted(MIX_KEYS)}")
    for i, entry in enumerate(mix):
        where = f"data.mix[{i}]"
        if not isinstance(entry, dict) or set(entry) - MIX_KEYS:
            raise ValueError(f"{where}={entry!r}: expected a mapping with keys among {sorted(MIX_KEYS)}")
        if entry.get("corpus") not in _recipes():
            raise ValueError(f"{where}.corpus={entry.get('corpus')!r}; accepted: {sorted(_recipes())}")
        if entry["corpus"] != "essen" and not entry.get("source"):
            raise ValueError(f"{where}.corpus={entry['corpus']!r} needs {where}.source=<folder or Hub id>")
        _check_pairs(entry.get("pairs"), f"{where}.pairs")
        _check_size(entry.get("pairs_per_epoch"), f"{where}.pairs_per_epoch")
        if not str(entry.get("split", "train")).startswith("train"):
            raise ValueError(f"{where}.split={entry.get('split')!r}: train on training splits only (train, train_*)")
        seconds = entry.get("min_seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0):
            raise ValueError(f"{where}.min_seconds={seconds!r}; expected a number of seconds >= 0")


def _check_size(value: Any, where: str) -> None:
    if value is not None:
        check_positive_int(where, value, "a positive number of pairs per epoch (or null: all)")


def _check_pairs(pairs: Any, where: str) -> None:
    import dataclasses
    import inspect

    from ..data import Augmenter, PairDataset

    accepted = sorted((set(inspect.signature(PairDataset).parameters) - {"dataset", "sampling_rate", "seed"})
                      | {"degrader"})
    pairs = pairs or {}
    if not isinstance(pairs, dict) or set(pairs) - set(accepted):
        raise ValueError(f"{where}={pairs!r}: expected a mapping with keys among {accepted}")
    degrader = pairs.get("degrader")
    if degrader is not None and (not isinstance(degrader, dict) or set(degrader) - DEGRADER_KEYS):
        raise ValueError(f"{where}.degrader={degrader!r}: expected a mapping with keys among {sorted(DEGRADER_KEYS)}")
    if degrader is not None and "noise" in degrader.get("conditions", ()) and not degrader.get("noise_source"):
        raise ValueError(f"{where}.degrader: the 'noise' condition needs noise_source=<Speech Commands folder> "
                         "(its '_silence_' clips, training half)")
    augmenter = pairs.get("augmenter")
    augmenter_keys = {f.name for f in dataclasses.fields(Augmenter)} - {"noise"}
    if augmenter is not None and (not isinstance(augmenter, dict) or set(augmenter) - augmenter_keys):
        raise ValueError(f"{where}.augmenter={augmenter!r}: expected a mapping with keys among {sorted(augmenter_keys)}")


def build_corpus(data: dict[str, Any]):
    """The corpus of an experiment as a ``DatasetDict``: loaded from ``cache_dir`` when built before, else built by
    its recipe (and saved to ``cache_dir`` when given)."""
    check_data_section(data)
    return _build(data)


def _build(data: dict[str, Any]):
    import datasets

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


def _initial_model(config: Wav2TokConfig, init_from: str | None, model_class: type, changes: list[str] = ()):
    """A fresh model for ``config``, or the saved model ``init_from`` (folder or Hub id) after checking that its
    config agrees with ``config`` (fine-tuning). Keys in ``changes`` may differ: the saved weights (codebook
    included) are then loaded into a model built for ``config``, and every weight must keep its shape, except the
    codebook when ``codebook_size`` changes (training re-fits it by K-means on the loaded encoder at step 0)."""
    if init_from is None:
        return model_class(config)
    unknown = sorted(set(changes) - set(Wav2TokConfig.__annotations__))
    if unknown:
        raise ValueError(f"training.init_from_changes has unknown model keys {unknown}")
    try:
        model = model_class.from_pretrained(init_from)
    except (OSError, ValueError) as error:
        raise ValueError(f"training.init_from={init_from!r} is not a loadable wav2tok model ({error})") from None
    differs = sorted(name for name in Wav2TokConfig.__annotations__
                     if getattr(model.config, name) != getattr(config, name))
    refused = [name for name in differs if name not in changes]
    if refused:
        raise ValueError(f"training.init_from={init_from!r} has a model config that differs from the experiment's "
                         f"in {refused}; set those model keys to the saved model's values (or list front-end keys "
                         "that keep every weight's shape in training.init_from_changes)")
    if not differs:
        return model
    changed = model_class(config)
    saved = model.state_dict()
    if "codebook_size" in differs:  # a new K: the codebook is re-fit by K-means on the loaded encoder at step 0
        saved["codebook"] = changed.state_dict()["codebook"]
    shapes = sorted(name for name, tensor in changed.state_dict().items()
                    if name not in saved or saved[name].shape != tensor.shape)
    if shapes or set(saved) != set(changed.state_dict()):
        raise ValueError(f"training.init_from_changes={list(changes)}: the weights {shapes or sorted(set(saved) ^ set(changed.state_dict()))} "
                         f"change shape or presence with {differs}; only changes that keep every weight can be fine-tuned")
    changed.load_state_dict(saved)
    return changed


def prepare_training(experiment: ExperimentConfig):
    """Validate every section, then build (model, trainer) for an experiment. Nothing trains yet."""
    from ..modeling_wav2tok import Wav2TokModel

    known_model = set(Wav2TokConfig.__dataclass_fields__)
    unknown = sorted(set(experiment.model) - known_model)
    if unknown:
        raise ValueError(f"unknown model keys {unknown}; accepted Wav2TokConfig fields: {sorted(known_model)}")
    config = Wav2TokConfig(**experiment.model)
    args = training_arguments(experiment.training)
    check_data_section(experiment.data)
    check_save_target(args.output_dir, overwrite=args.overwrite_output_dir, what="training.output_dir")
    with _main_process_first():  # under torchrun, rank 0 builds and caches the corpus; the others then load it
        corpus = build_corpus(experiment.data)
    for split in ("train", "validation"):
        if split not in corpus:
            raise ValueError(f"corpus has no {split!r} split (splits: {list(corpus)})")
    train = corpus["train"]
    kinds = experiment.data.get("train_kinds")
    if kinds:
        train = train.filter(lambda k: k in kinds, input_columns=["kind"])
    banks: dict = {}  # noise banks / room responses shared by the pair sources
    pairs = _pairs(train, experiment.data.get("pairs"), config.sampling_rate, args.seed, banks)
    eval_set = retrieval_set_from_split(corpus["validation"], config.sampling_rate,
                                        max_queries=experiment.data.get("eval_max_queries"), seed=args.seed,
                                        max_references_per_label=experiment.data.get("eval_references_per_label"),
                                        synthetic=SYNTHETIC_CORPORA.get(experiment.data["corpus"], False),
                                        name=f"{experiment.name}/validation")
    mix = experiment.data.get("mix") or []
    if mix or experiment.data.get("pairs_per_epoch"):
        pairs, eval_set = _mixed(experiment, pairs, eval_set, config.sampling_rate, args.seed, banks)
    import torch

    torch.manual_seed(args.seed)
    model = _initial_model(config, args.init_from, Wav2TokModel, args.init_from_changes)
    return Wav2TokTrainer(model, args, pairs, eval_set=eval_set, experiment=experiment.to_dict()), corpus


def _pairs(split: Any, options: dict[str, Any] | None, sampling_rate: int, seed: int, banks: dict | None = None):
    """A :class:`PairDataset` over ``split`` with the YAML pair options (``augmenter`` and ``degrader`` given as
    mappings); ``banks`` caches noise banks and room responses across the pair sources of one run."""
    from ..data import Augmenter, Degrader, PairDataset, load_noise_bank, room_impulse_responses

    options = dict(options or {})
    if isinstance(options.get("augmenter"), dict):  # YAML: augmenter: {semitones: [-6, 5], rates: [0.8, 1.5]}
        options["augmenter"] = Augmenter(**{k: tuple(v) if isinstance(v, list) else v
                                            for k, v in options["augmenter"].items()})
    degrader = options.pop("degrader", None)
    if degrader is not None:
        banks = {} if banks is None else banks
        degrader = dict(degrader)
        noise_source, rooms = degrader.pop("noise_source", None), degrader.pop("rooms", 16)
        conditions = tuple(degrader.pop("conditions", ("reverb", "noise", "eq", "gain", "dc", "telephone")))
        if "noise" in conditions and ("noise", noise_source) not in banks:
            banks["noise", noise_source] = load_noise_bank(noise_source, part="train", sampling_rate=sampling_rate)
        if "reverb" in conditions and ("reverb", rooms) not in banks:
            banks["reverb", rooms] = room_impulse_responses(int(rooms), sampling_rate, seed=0)
        degrader_options = {k: {o: tuple(v) if isinstance(v, list) else v for o, v in opts.items()}
                            for k, opts in (degrader.pop("options", None) or {}).items()}
        options["augmenter"] = Degrader(conditions=conditions, options=degrader_options,
                                        noise_bank=banks.get(("noise", noise_source)),
                                        rir_bank=banks.get(("reverb", rooms)),
                                        base=options.get("augmenter") or Augmenter(), **degrader)
    return PairDataset(split, sampling_rate=sampling_rate, seed=seed, **options)


def _at_least(split: Any, seconds: float, where: str):
    """The rows of ``split`` whose audio lasts at least ``seconds`` (durations read from the file headers)."""
    import io

    import soundfile as sf
    from datasets import Audio

    raw = split.cast_column("audio", Audio(decode=False))["audio"]
    keep = [i for i, audio in enumerate(raw)
            if sf.info(io.BytesIO(audio["bytes"]) if audio.get("bytes") else audio["path"]).duration >= seconds]
    if not keep:
        raise ValueError(f"{where}.min_seconds={seconds}: no row of the split is that long")
    logger.info("%s: %d of %d rows last at least %.2f s", where, len(keep), len(split), seconds)
    return split.select(keep)


def _labelled_validation(retrieval, corpus: str):
    import dataclasses

    return dataclasses.replace(retrieval, query_labels=[f"{corpus}:{x}" for x in retrieval.query_labels],
                               database_labels=[f"{corpus}:{x}" for x in retrieval.database_labels])


def _mixed(experiment: ExperimentConfig, pairs, eval_set, sampling_rate: int, seed: int, banks: dict):
    """The training pairs of ``data`` and of every ``data.mix`` entry in one :class:`MixedPairDataset`, and the
    validation set extended by the validation splits of the entries with ``validation: true`` (labels prefixed by
    the corpus name, so words of different corpora never match)."""
    import dataclasses

    from ..data import MixedPairDataset

    data = experiment.data
    sources, sizes = [pairs], [data.get("pairs_per_epoch") or len(pairs)]
    validation = [_labelled_validation(eval_set, data["corpus"])]
    for i, entry in enumerate(data.get("mix") or []):
        where = f"data.mix[{i}]"
        with _main_process_first():
            corpus = _build(entry)
        split_name = entry.get("split", "train")
        if split_name not in corpus:
            raise ValueError(f"{where}.split={split_name!r}: the corpus has splits {list(corpus)}")
        split = corpus[split_name]
        if entry.get("min_seconds"):
            split = _at_least(split, float(entry["min_seconds"]), where)
        source = _pairs(split, entry.get("pairs"), sampling_rate, seed + 1 + i, banks)
        sources.append(source)
        sizes.append(entry.get("pairs_per_epoch") or len(source))
        logger.info("%s: %d %s pairs of %s/%s, %d per epoch", where, len(source), source.mode, entry["corpus"],
                    split_name, sizes[-1])
        if entry.get("validation"):
            extra = retrieval_set_from_split(corpus["validation"], sampling_rate,
                                             max_queries=data.get("eval_max_queries"), seed=seed,
                                             max_references_per_label=data.get("eval_references_per_label"),
                                             synthetic=SYNTHETIC_CORPORA.get(entry["corpus"], False))
            validation.append(_labelled_validation(extra, entry["corpus"]))
    if len(validation) > 1:
        eval_set = dataclasses.replace(
            eval_set, queries=[q for v in validation for q in v.queries],
            query_labels=[x for v in validation for x in v.query_labels],
            database=[d for v in validation for d in v.database],
            database_labels=[x for v in validation for x in v.database_labels],
            synthetic=any(v.synthetic for v in validation))
    return MixedPairDataset(sources, sizes, seed=seed), eval_set


def run_training(experiment: ExperimentConfig) -> tuple[TrainResult, Any]:
    """Train an experiment end to end; returns the result and the corpus (for testing on its test split)."""
    trainer, corpus = prepare_training(experiment)
    return trainer.train(), corpus
