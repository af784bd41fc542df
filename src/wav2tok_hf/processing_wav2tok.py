"""Processor for wav2tok: the feature extractor and the tokenizer, saved together."""

from __future__ import annotations

from transformers import BatchFeature, ProcessorMixin
from transformers.processing_utils import ProcessingKwargs, Unpack

from .configuration_wav2tok import Wav2TokConfig
from .feature_extraction_wav2tok import Wav2TokFeatureExtractor
from .tokenization_wav2tok import Wav2TokTokenizer


class Wav2TokProcessor(ProcessorMixin):
    r"""Wraps a [`Wav2TokFeatureExtractor`] (audio -> features) and a [`Wav2TokTokenizer`] (ids <-> token text).

    Example:

    >>> from wav2tok_hf import Wav2TokConfig, Wav2TokProcessor
    >>> processor = Wav2TokProcessor.from_model_config(Wav2TokConfig(codebook_size=25, sampling_rate=8000))
    >>> processor.decode([3, 17, 5])
    't3 t17 t5'
    >>> import numpy as np
    >>> batch = processor(np.zeros(8000, np.float32), audio_kwargs={"sampling_rate": 8000}, return_tensors="pt")
    >>> sorted(batch), processor.model_input_names
    (['attention_mask', 'input_features'], ['input_features', 'attention_mask'])
    """

    def __init__(self, feature_extractor: Wav2TokFeatureExtractor, tokenizer: Wav2TokTokenizer):
        super().__init__(feature_extractor, tokenizer)

    @classmethod
    def from_model_config(cls, config: Wav2TokConfig) -> Wav2TokProcessor:
        """The processor matching a model config."""
        return cls(Wav2TokFeatureExtractor.from_model_config(config), Wav2TokTokenizer.from_codebook_size(config.codebook_size))

    @property
    def model_input_names(self) -> list[str]:
        """What `__call__` returns: the feature extractor's outputs (the tokenizer only decodes model output)."""
        return list(self.feature_extractor.model_input_names)

    def __call__(self, audio=None, **kwargs: Unpack[ProcessingKwargs]) -> BatchFeature:
        """Featurise audio (see [`Wav2TokFeatureExtractor.__call__`]).

        Keyword arguments follow transformers' processor convention: flat (``sampling_rate=16000``), per modality
        (``audio_kwargs={...}``) or shared (``common_kwargs={"return_tensors": "pt"}``). There is no text input:
        token text maps to ids with ``processor.tokenizer`` and back with [`~Wav2TokProcessor.decode`].
        """
        if audio is None:
            raise ValueError("Wav2TokProcessor needs `audio` (one input or a list)")
        if "text" in kwargs or "text_kwargs" in kwargs:
            raise TypeError("Wav2TokProcessor takes audio only; for token text use processor.tokenizer / decode")
        merged = self._merge_kwargs(ProcessingKwargs, tokenizer_init_kwargs=self.tokenizer.init_kwargs, **kwargs)
        return self.feature_extractor(audio, **merged["audio_kwargs"])

    def decode(self, token_ids, **kwargs) -> str:
        """Token ids -> ``"t3 t17 t5"``."""
        return self.tokenizer.decode(token_ids, **kwargs)

    def batch_decode(self, sequences, **kwargs) -> list[str]:
        """A batch of token id lists -> token strings."""
        return self.tokenizer.batch_decode(sequences, **kwargs)


__all__ = ["Wav2TokProcessor"]
