"""transformers' own `TokenizerTesterMixin` (from the installed version's sdist) run on `Wav2TokTokenizer`.

The tokenizer's "text" is space-separated codebook tokens (``"t3 t17 t5"``), so the mixin's samples are such strings;
every test of the mixin applies (the skips left are the mixin's own: slow, tokenizers-backend, seq2seq)."""

from __future__ import annotations

import tempfile
import unittest

from upstream import load

from wav2tok_hf import Wav2TokTokenizer

TokenizerTesterMixin = load("test_tokenization_common").TokenizerTesterMixin


class Wav2TokTokenizationUpstreamTest(TokenizerTesterMixin, unittest.TestCase):
    tokenizer_class = Wav2TokTokenizer
    test_seq2seq = False  # no seq2seq targets
    test_tokenizer_from_extractor = False  # no `tokenizers` backend to extract a vocabulary from

    @classmethod
    def setUpClass(cls) -> None:
        # As the mixin's setUpClass, with wav2tok's own vocabulary instead of a Hub checkpoint and a token text
        # instead of the English fixture file (which the sdist does not ship). The mixin's English samples are words
        # outside the codebook: with an `unk_token` they map to it (transformers' convention), so the padding,
        # truncation and special-token tests still apply; a `pad_token` lets the padding tests run.
        cls.from_pretrained_id = []
        cls.tokenizers_list = []
        cls._data = " ".join(f"t{i % 12}" for i in range(200))
        cls.tmpdirname = tempfile.mkdtemp()
        Wav2TokTokenizer.from_codebook_size(12, unk_token="<unk>", pad_token="<pad>").save_pretrained(cls.tmpdirname)

    def get_input_output_texts(self, tokenizer):
        return "t3 t1 t4 t1 t5", "t3 t1 t4 t1 t5"

    def get_clean_sequence(self, tokenizer, with_prefix_space=False, max_length=20, min_length=5):
        # The mixin's version keeps vocabulary entries matching ^[ a-zA-Z]+$; codebook tokens are ``t<id>``.
        text = " ".join(f"t{i % 12}" for i in range(max_length or 20))
        text = " " + text if with_prefix_space else text
        return text, tokenizer.encode(text, add_special_tokens=False)
