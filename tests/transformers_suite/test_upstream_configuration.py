"""transformers' own `ConfigTester` (from the installed version's sdist) run on `Wav2TokConfig`."""

from __future__ import annotations

import unittest

from upstream import load

from wav2tok_hf import Wav2TokConfig

ConfigTester = load("test_configuration_common").ConfigTester

TINY = dict(sampling_rate=8000, n_fft=128, hop_length=64, n_mels=8, n_mfcc=4, hidden_size=16, num_layers=1,
            num_attention_heads=2, embedding_dim=8, codebook_size=5)


class Wav2TokConfigUpstreamTest(unittest.TestCase):
    def test_config(self):
        # No text modality: wav2tok reads audio, its "vocabulary" is the codebook (`codebook_size`).
        ConfigTester(self, config_class=Wav2TokConfig, has_text_modality=False, **TINY).run_common_tests()

    def test_config_transformer(self):
        ConfigTester(self, config_class=Wav2TokConfig, has_text_modality=False, encoder_type="transformer",
                     **TINY).run_common_tests()
