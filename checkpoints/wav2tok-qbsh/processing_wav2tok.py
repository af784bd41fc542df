"""Processor for wav2tok: the feature extractor and the tokenizer, saved together."""

from __future__ import annotations

from transformers import ProcessorMixin

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
    """

    def __init__(self, feature_extractor: Wav2TokFeatureExtractor, tokenizer: Wav2TokTokenizer):
        super().__init__(feature_extractor, tokenizer)

    @classmethod
    def from_model_config(cls, config: Wav2TokConfig) -> Wav2TokProcessor:
        """The processor matching a model config."""
        return cls(Wav2TokFeatureExtractor.from_model_config(config), Wav2TokTokenizer.from_codebook_size(config.codebook_size))

    def __call__(self, audio=None, sampling_rate: int | None = None, **kwargs):
        """Featurise audio (see [`Wav2TokFeatureExtractor.__call__`])."""
        if audio is None:
            raise ValueError("Wav2TokProcessor needs `audio` (one input or a list)")
        return self.feature_extractor(audio, sampling_rate=sampling_rate, **kwargs)

    def decode(self, token_ids, **kwargs) -> str:
        """Token ids -> ``"t3 t17 t5"``."""
        return self.tokenizer.decode(token_ids, **kwargs)

    def batch_decode(self, sequences, **kwargs) -> list[str]:
        """A batch of token id lists -> token strings."""
        return self.tokenizer.batch_decode(sequences, **kwargs)


__all__ = ["Wav2TokProcessor"]
