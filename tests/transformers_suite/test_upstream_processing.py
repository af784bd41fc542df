"""transformers' own `ProcessorTesterMixin` (from the installed version's sdist) run on `Wav2TokProcessor`.

wav2tok's processor takes audio only (its tokenizer maps token ids to text and back, it never tokenises text for the
model), so the mixin's text, image, video and chat-template tests are skipped by name, each with why."""

from __future__ import annotations

import unittest

from upstream import load, skip_inapplicable

from wav2tok_hf import Wav2TokConfig, Wav2TokFeatureExtractor, Wav2TokProcessor, Wav2TokTokenizer

ProcessorTesterMixin = load("test_processing_common").ProcessorTesterMixin

TINY = Wav2TokConfig(sampling_rate=8000, n_fft=128, hop_length=64, n_mels=8, codebook_size=12)

TEXT = "text input: the processor featurises audio only; token text goes through processor.tokenizer / decode"
SKIPS = {
    "test_subprocessor_defaults_0_text": TEXT,
    "test_processor_with_multiple_inputs": TEXT,
    "test_flat_kwarg_applied_when_modality_dict_lacks_it": TEXT,
    # The audio variants of the kwargs tests check the text output (input_ids padded to max_length).
    "test_subprocessor_defaults_preserved_by_kwargs_2_audio": TEXT,
    "test_kwargs_overrides_default_subprocessor_kwargs_2_audio": TEXT,
    "test_unstructured_kwargs_2_audio": TEXT,
    "test_unstructured_kwargs_batched_2_audio": TEXT,
    "test_structured_kwargs_nested_from_dict_2_audio": TEXT,
    "test_overlapping_text_image_kwargs_handling_2_audio": TEXT,
    **dict.fromkeys(
        ["test_processor_from_and_save_pretrained", "test_processor_from_and_save_pretrained_as_nested_dict"],
        "transformers' save_pretrained adds `auto_map` to a processor registered for remote code and "
        "from_pretrained drops it, so to_dict differs in that key; tests/test_processing_wav2tok.py checks the round "
        "trip of the settings"),
}


@skip_inapplicable(SKIPS)
class Wav2TokProcessorUpstreamTest(ProcessorTesterMixin, unittest.TestCase):
    processor_class = Wav2TokProcessor
    audio_input_name = "input_features"

    def prepare_audio_inputs(self, batch_size: int | None = None):
        # The mixin's raw arrays carry no sampling rate, which wav2tok refuses by design (README, "transformers
        # conventions"); the same audio as 🤗 Datasets gives it, with its rate.
        return [{"array": wave, "sampling_rate": TINY.sampling_rate} for wave in super().prepare_audio_inputs(batch_size)]

    @classmethod
    def _setup_feature_extractor(cls):
        return Wav2TokFeatureExtractor.from_model_config(TINY)

    @classmethod
    def _setup_tokenizer(cls):
        return Wav2TokTokenizer.from_codebook_size(TINY.codebook_size)
