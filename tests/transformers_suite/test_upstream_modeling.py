"""transformers' own `ModelTesterMixin` (from the installed version's sdist) run on `Wav2TokModel`, with tiny BiLSTM
and Transformer configurations. Tests that do not apply to an audio tokenizer are skipped by name, each with why."""

from __future__ import annotations

import unittest

import torch
from transformers.testing_utils import torch_device
from upstream import load, skip_inapplicable

from wav2tok_hf import Wav2TokConfig, Wav2TokModel

modeling_common = load("test_modeling_common")
ModelTesterMixin, floats_tensor = modeling_common.ModelTesterMixin, modeling_common.floats_tensor


class Wav2TokModelTester:
    """What the mixin asks of a model tester: a tiny config and a padded batch of features."""

    def __init__(self, parent, encoder_type: str = "bilstm", batch_size: int = 3, seq_length: int = 12):
        self.parent = parent
        self.encoder_type = encoder_type
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = False
        self.hidden_size = 16
        self.num_hidden_layers = 2
        self.num_attention_heads = 2
        # hidden_states: one per layer, plus the Transformer's projected input (a BiLSTM has no embedding layer).
        self.expected_num_hidden_layers = self.num_hidden_layers + (encoder_type == "transformer")

    def get_config(self) -> Wav2TokConfig:
        return Wav2TokConfig(sampling_rate=8000, n_fft=128, hop_length=64, n_mels=8, encoder_type=self.encoder_type,
                             hidden_size=self.hidden_size, num_layers=self.num_hidden_layers,
                             num_attention_heads=self.num_attention_heads, embedding_dim=8, codebook_size=5,
                             dropout=0.0)

    def prepare_config_and_inputs_for_common(self) -> tuple[Wav2TokConfig, dict]:
        config = self.get_config()
        features = floats_tensor([self.batch_size, self.seq_length, config.feature_size])
        # on the suite's device, as floats_tensor puts the features (a GPU there: CPU masks failed 18 tests on one)
        mask = torch.ones(self.batch_size, self.seq_length, dtype=torch.long, device=torch_device)
        mask[-1, self.seq_length // 2 :] = 0  # one right-padded item
        return config, {"input_features": features, "attention_mask": mask}


SKIPS = {
    "test_model_get_set_embeddings": "audio features in: no input embedding table to get or set",
    "test_init_weights_can_init_buffers": "the codebook buffer is random by design (K-means replaces it at the first "
                                          "E-step); tests/test_modeling_wav2tok.py checks _init_weights fills it",
}


@skip_inapplicable(SKIPS)
class Wav2TokBiLSTMModelUpstreamTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (Wav2TokModel,)
    has_attentions = False  # a BiLSTM (and the Transformer option) returns no attention maps
    test_resize_embeddings = False  # audio features in, no input embedding table
    test_torch_exportable = False

    def setUp(self):
        self.model_tester = Wav2TokModelTester(self)


@skip_inapplicable(SKIPS)
class Wav2TokTransformerModelUpstreamTest(Wav2TokBiLSTMModelUpstreamTest):
    def setUp(self):
        self.model_tester = Wav2TokModelTester(self, encoder_type="transformer")
