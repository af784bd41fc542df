"""transformers' own `SequenceFeatureExtractionTestMixin` (from the installed version's sdist) run on
`Wav2TokFeatureExtractor`, with a tiny 8-band log-mel configuration."""

from __future__ import annotations

import unittest

import numpy as np
from upstream import load

from wav2tok_hf import Wav2TokFeatureExtractor

SequenceFeatureExtractionTestMixin = load("test_sequence_feature_extraction_common").SequenceFeatureExtractionTestMixin


class Wav2TokFeatureExtractionTester:
    """What the mixin asks of a tester: settings, and feature sequences (frames x feature_size) of growing length."""

    def __init__(self, batch_size: int = 7, min_seq_length: int = 40, max_seq_length: int = 200):
        self.batch_size = batch_size
        self.min_seq_length = min_seq_length
        self.max_seq_length = max_seq_length
        self.seq_length_diff = (max_seq_length - min_seq_length) // (batch_size - 1)
        self.feature_size = 8

    def prepare_feat_extract_dict(self) -> dict:
        return {"feature_type": "log-mel", "sampling_rate": 8000, "n_fft": 128, "hop_length": 64, "n_mels": 8,
                "padding_value": 0.0}

    def prepare_inputs_for_common(self, equal_length: bool = False, numpify: bool = False) -> list:
        rng = np.random.default_rng(0)
        lengths = ([self.max_seq_length] * self.batch_size if equal_length
                   else range(self.min_seq_length, self.max_seq_length, self.seq_length_diff))
        inputs = [rng.random((n, self.feature_size)) for n in lengths]
        return inputs if numpify else [x.tolist() for x in inputs]


class Wav2TokFeatureExtractionUpstreamTest(SequenceFeatureExtractionTestMixin, unittest.TestCase):
    feature_extraction_class = Wav2TokFeatureExtractor

    def setUp(self):
        self.feat_extract_tester = Wav2TokFeatureExtractionTester()
