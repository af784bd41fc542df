"""The ``"audio-tokenization"`` pipeline: audio in, wav2tok token ids / text / durations out."""

from __future__ import annotations

from typing import Any

import numpy as np
from transformers import Pipeline

from .modeling_wav2tok import collapse_runs


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
    _load_feature_extractor = True
    _load_tokenizer = False

    def _sanitize_parameters(self, sampling_rate: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"Unexpected arguments {sorted(kwargs)}; the audio-tokenization pipeline accepts sampling_rate, batch_size")
        preprocess = {"sampling_rate": sampling_rate} if sampling_rate is not None else {}
        return preprocess, {}, {}

    def preprocess(self, inputs: Any, sampling_rate: int | None = None) -> dict:
        fe = self.model.feature_extractor
        rate = sampling_rate
        if rate is None and (isinstance(inputs, (np.ndarray, list, tuple)) or hasattr(inputs, "detach")):
            rate = fe.sampling_rate  # raw arrays are taken to be at the model's rate, as in the ASR pipeline
        features, mask = fe.featurize(fe.load([inputs], sampling_rate=rate))
        return {"input_features": features, "attention_mask": mask.long()}

    def _forward(self, model_inputs: dict) -> dict:
        out = self.model(**model_inputs, return_dict=True)
        return {"frame_tokens": out.frame_tokens, "lengths": out.lengths}

    def postprocess(self, model_outputs: dict) -> dict:
        n = int(model_outputs["lengths"].reshape(-1)[0])
        ids, runs = collapse_runs(model_outputs["frame_tokens"].reshape(-1)[:n])
        rate = self.model.config.frame_rate
        return {"token_ids": ids, "tokens": " ".join(f"t{i}" for i in ids), "durations_s": [r / rate for r in runs]}


__all__ = ["AudioTokenizationPipeline"]
