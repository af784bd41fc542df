"""The ``"audio-tokenization"`` pipeline: audio in, wav2tok token ids / text / durations out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import Pipeline

from .modeling_wav2tok import collapse_runs, split_long_runs


class AudioTokenizationPipeline(Pipeline):
    r"""Tokenise audio with a wav2tok model.

    Inputs: a file path, a numpy array / torch tensor (assumed to be at the model's sampling rate,
    or pass a ``{"array", "sampling_rate"}`` dict), or a 🤗 Datasets audio value; one or a list. Batching works
    with ``batch_size=N``: padding never changes a result.

    Returns, per input, ``{"token_ids": [...], "tokens": "t3 t17 ...", "durations_s": [...]}``.

    Example:

    >>> from transformers import pipeline
    >>> import wav2tok_hf, numpy as np  # registers the task
    >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    >>> model = Wav2TokModel(Wav2TokConfig(sampling_rate=8000, hidden_size=32, embedding_dim=16))
    >>> tok = pipeline("audio-tokenization", model=model, feature_extractor=model.feature_extractor)
    >>> out = tok(np.zeros(8000, dtype=np.float32))
    >>> sorted(out)
    ['durations_s', 'token_ids', 'tokens']
    """

    _load_processor = False
    _load_image_processor = False
    # The feature extractor is built from the model's config (the single source of truth), so a folder with only
    # config.json and weights is enough: no preprocessor_config.json is looked for.
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.feature_extractor is None:
            self.feature_extractor = self.model.feature_extractor  # also gives batching its padding settings

    def __call__(self, inputs: Any, **kwargs: Any):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 0:
            raise ValueError("no audio given (an empty list); accepted: one input or a non-empty list of them")
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(self, sampling_rate: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"Unexpected arguments {sorted(kwargs)}; the audio-tokenization pipeline accepts sampling_rate, batch_size")
        preprocess = {"sampling_rate": sampling_rate} if sampling_rate is not None else {}
        return preprocess, {}, {}

    def preprocess(self, inputs: Any, sampling_rate: int | None = None) -> dict:
        fe = self.model.feature_extractor
        if isinstance(inputs, dict) and "raw" in inputs:  # the ASR pipeline's {"raw", "sampling_rate"} input
            inputs = {"array": inputs["raw"], "sampling_rate": inputs.get("sampling_rate")}
        rate = sampling_rate
        if rate is None and (isinstance(inputs, (np.ndarray, list, tuple)) or hasattr(inputs, "detach")):
            rate = fe.sampling_rate  # raw arrays are taken to be at the model's rate, as in the ASR pipeline
        wave = torch.from_numpy(fe.load([inputs], sampling_rate=rate)[0])
        return {"input_values": wave[None], "attention_mask": torch.ones(1, len(wave), dtype=torch.long)}

    def _forward(self, model_inputs: dict) -> dict:
        # The waves go through `model.frame_outputs`, as in `model.encode`: long inputs are chunked the same way, so
        # both entry points give one answer. The pipeline has moved them to its device (`device=0`): back to numpy.
        lengths = model_inputs["attention_mask"].sum(-1).tolist()
        waves = [w[: int(n)].cpu().numpy() for w, n in zip(model_inputs["input_values"], lengths)]
        outputs = self.model.frame_outputs(waves, sampling_rate=self.model.feature_extractor.sampling_rate)
        lengths = torch.tensor([len(tokens) for tokens, _ in outputs])
        frame_tokens = torch.full((len(outputs), int(lengths.max())), -1, dtype=torch.long)
        for row, (tokens, _) in enumerate(outputs):
            frame_tokens[row, : len(tokens)] = torch.from_numpy(tokens)
        return {"frame_tokens": frame_tokens, "lengths": lengths}

    def postprocess(self, model_outputs: dict) -> dict:
        n = int(model_outputs["lengths"].reshape(-1)[0])
        ids, runs = split_long_runs(*collapse_runs(model_outputs["frame_tokens"].reshape(-1)[:n]),
                                    self.model.config.max_token_run)
        rate = self.model.config.frame_rate
        return {"token_ids": ids, "tokens": " ".join(f"t{i}" for i in ids), "durations_s": [r / rate for r in runs]}


__all__ = ["AudioTokenizationPipeline"]
