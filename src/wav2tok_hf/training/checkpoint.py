"""Training checkpoints that cannot execute code: tensors in safetensors, everything else in JSON.

A ``checkpoints/step_N`` folder holds:

* ``model.safetensors`` (weights and codebook) and ``model_config.json`` (the `Wav2TokConfig` fields);
* ``optimizer.safetensors`` + ``optimizer.json`` (its tensors, and its param groups / scalar state);
* ``scheduler.json``, ``trainer_state.json`` (step, epoch, best metric, history, ...);
* ``extra.safetensors`` (free parameters such as the CTC-ablation blank logit) when there are any;
* ``rng_state_<rank>.safetensors`` + ``rng_state_<rank>.json`` per process (torch / CUDA / numpy / Python RNGs).

Accelerate's ``save_state`` writes torch pickles (``optimizer.bin``, ``random_states_0.pkl``, ...); loading a
tampered pickle runs arbitrary code, so this format replaces it and :func:`load_checkpoint` refuses any folder that
holds pickle-like files. Hand-written because Accelerate has no pickle-free state format.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

PICKLE_SUFFIXES = (".pkl", ".pickle", ".bin", ".pt", ".pth", ".ckpt")
CHECKPOINT_MARKER = "model_config.json"


def _json_dump(obj: Any, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)  # floats round-trip exactly through repr; -inf is written as -Infinity


def _json_load(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"checkpoint file {path} is missing or not valid JSON ({error})") from None


def _tensors_load(path: str) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except (OSError, SafetensorError, ValueError) as error:
        raise ValueError(f"checkpoint file {path} is missing or not a valid safetensors file ({error})") from None


def _split_state(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer state dict -> (its tensors by ``state.<param>.<name>``, the rest as JSON-able values)."""
    tensors, scalars = {}, {}
    for param, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{param}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(param), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_state(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, param, name = key.split(".", 2)
        state.setdefault(int(param), {})[name] = value
    for param, values in rest["scalars"].items():
        state.setdefault(int(param), {}).update(values)
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in rest["param_groups"]]
    return {"state": state, "param_groups": groups}


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The torch (CPU and CUDA), numpy (legacy global) and Python RNG states as (tensors, JSON)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return tensors, {"numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
                     "python": [version, list(internal), gauss]}


def set_rng_state(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[f"cuda.{i}"] for i in range(len([k for k in tensors if k.startswith("cuda.")]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, pos, has_gauss, cached = rest["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = rest["python"]
    random.setstate((version, tuple(internal), gauss))


def latest_checkpoint(run_dir: str) -> str | None:
    """The ``checkpoints/step_N`` folder of ``run_dir`` with the largest N, or None when it has none.

    Example:
        >>> import tempfile
        >>> run = tempfile.mkdtemp()
        >>> for step in (50, 100, 9):
        ...     os.makedirs(os.path.join(run, "checkpoints", f"step_{step}"))
        >>> os.path.basename(latest_checkpoint(run)), latest_checkpoint(tempfile.mkdtemp())
        ('step_100', None)
    """
    root = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(root):
        return None
    steps = sorted(int(d.split("_")[1]) for d in os.listdir(root) if d.startswith("step_") and d.split("_")[1].isdigit())
    return os.path.join(root, f"step_{steps[-1]}") if steps else None


def save_checkpoint(directory: str, *, rank: int, main: bool, model: torch.nn.Module | None = None,
                    model_config: dict[str, Any] | None = None, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, trainer_state: dict[str, Any] | None = None,
                    extra: dict[str, torch.Tensor] | None = None) -> None:
    """Write this process's part of a checkpoint into ``directory`` (which must exist): the RNG states of every
    rank, and on the main process the model, optimizer, scheduler, trainer state and extra tensors."""
    tensors, rest = rng_state()
    save_file(tensors, os.path.join(directory, f"rng_state_{rank}.safetensors"))
    _json_dump(rest, os.path.join(directory, f"rng_state_{rank}.json"))
    if not main:
        return
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              os.path.join(directory, "model.safetensors"))
    optimizer_tensors, optimizer_rest = _split_state(optimizer.state_dict())
    save_file(optimizer_tensors, os.path.join(directory, "optimizer.safetensors"))
    _json_dump(optimizer_rest, os.path.join(directory, "optimizer.json"))
    _json_dump(scheduler.state_dict(), os.path.join(directory, "scheduler.json"))
    _json_dump(trainer_state, os.path.join(directory, "trainer_state.json"))
    if extra:
        save_file({k: v.detach().cpu().contiguous() for k, v in extra.items()}, os.path.join(directory, "extra.safetensors"))
    _json_dump(model_config, os.path.join(directory, CHECKPOINT_MARKER))  # last: its presence marks a complete save


def check_checkpoint(directory: str) -> dict[str, Any]:
    """Refuse a folder that is not a checkpoint of this format or holds pickle-like files (never opened); return
    its saved model config."""
    if not os.path.isfile(os.path.join(directory, CHECKPOINT_MARKER)):
        raise ValueError(f"{directory} is not a wav2tok training checkpoint (no {CHECKPOINT_MARKER})")
    pickles = sorted(name for name in os.listdir(directory) if name.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        raise ValueError(f"refusing to resume from {directory}: it holds pickle files {pickles}, which could run code "
                         "when loaded (an Accelerate-format checkpoint of an older version, or a tampered one); "
                         "accepted: checkpoints of safetensors + JSON files only")
    return _json_load(os.path.join(directory, CHECKPOINT_MARKER))


def load_checkpoint(directory: str, *, rank: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, extra: dict[str, torch.nn.Parameter] | None = None) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint` (safetensors and JSON only; nothing is unpickled)
    and return the trainer state."""
    check_checkpoint(directory)
    weights = _tensors_load(os.path.join(directory, "model.safetensors"))
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in weights.items()})
    optimizer_state = _join_state(_tensors_load(os.path.join(directory, "optimizer.safetensors")),
                                  _json_load(os.path.join(directory, "optimizer.json")))
    optimizer.load_state_dict(optimizer_state)
    scheduler.load_state_dict(_json_load(os.path.join(directory, "scheduler.json")))
    if extra:
        saved = _tensors_load(os.path.join(directory, "extra.safetensors"))
        with torch.no_grad():
            for name, parameter in extra.items():
                parameter.copy_(saved[name])
    rng_file = os.path.join(directory, f"rng_state_{rank}.safetensors")
    if not os.path.isfile(rng_file):
        raise ValueError(f"cannot resume from {directory} as process {rank}: it has no {os.path.basename(rng_file)} "
                         "(was it written by fewer processes?)")
    set_rng_state(_tensors_load(rng_file), _json_load(os.path.join(directory, f"rng_state_{rank}.json")))
    return _json_load(os.path.join(directory, "trainer_state.json"))
