"""Tokenizer for wav2tok: maps token ids <-> token strings ``t0 .. t{K-1}`` with a saved vocabulary."""

from __future__ import annotations

import json
import os

from transformers import AddedToken, PreTrainedTokenizer

from .saving import write_file_atomic

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json"}


class Wav2TokTokenizer(PreTrainedTokenizer):
    r"""Token ids of a wav2tok codebook as strings ``t<id>``, space separated in text.

    Audio goes to ids through [`Wav2TokModel.encode`]; this class gives those ids a readable, saveable vocabulary so
    they can be stored, diffed and searched as text.

    Example:

    >>> from wav2tok_hf import Wav2TokTokenizer
    >>> tok = Wav2TokTokenizer.from_codebook_size(25)
    >>> tok.decode([3, 17, 5])
    't3 t17 t5'
    >>> tok.convert_tokens_to_ids(["t3", "t17"])
    [3, 17]
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids"]

    def __init__(self, vocab_file: str | None = None, codebook_size: int | None = None, **kwargs):
        if vocab_file is not None:
            with open(vocab_file, encoding="utf-8") as f:
                self.encoder = {str(k): int(v) for k, v in json.load(f).items()}
        elif codebook_size is not None:
            if not isinstance(codebook_size, int) or codebook_size < 2:
                raise ValueError(f"codebook_size={codebook_size!r}; expected an integer >= 2")
            self.encoder = {f"t{i}": i for i in range(codebook_size)}
        else:
            raise ValueError("Wav2TokTokenizer needs a vocab_file or a codebook_size")
        if sorted(self.encoder.values()) != list(range(len(self.encoder))):
            raise ValueError("vocabulary ids must be exactly 0 .. K-1")
        if codebook_size is not None and codebook_size != len(self.encoder):
            raise ValueError(f"codebook_size={codebook_size!r} but {vocab_file} holds {len(self.encoder)} tokens")
        self.decoder = {v: k for k, v in self.encoder.items()}
        # codebook_size is stored with the other init arguments (tokenizer_config.json), as transformers expects.
        super().__init__(codebook_size=len(self.encoder), **kwargs)

    def __setattr__(self, key: str, value) -> None:
        super().__setattr__(key, value)
        # A special token set after construction joins the vocabulary (with the next free id), as one given to
        # __init__ does, so that e.g. `pad_token_id` exists instead of raising "Unknown token".
        if (key in self.SPECIAL_TOKENS_ATTRIBUTES and isinstance(value, (str, AddedToken))
                and "_added_tokens_encoder" in self.__dict__ and str(value) not in self.get_vocab()):
            self.add_tokens([value], special_tokens=True)

    @classmethod
    def from_codebook_size(cls, codebook_size: int, **kwargs) -> Wav2TokTokenizer:
        """A tokenizer for a codebook of `codebook_size` tokens."""
        return cls(codebook_size=codebook_size, **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def get_vocab(self) -> dict[str, int]:
        """The codebook tokens ``t0 .. t{K-1}`` and any added tokens (ids from K up)."""
        return {**self.encoder, **self._added_tokens_encoder}

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return text.split()

    def _convert_token_to_id(self, token: str) -> int:
        """The id of a codebook token; an unknown token maps to `unk_token` when one is set (transformers'
        convention), and raises otherwise (the default: a token string outside the codebook is a mistake)."""
        if token in self.encoder:
            return self.encoder[token]
        if self.unk_token is not None and self.unk_token in self._added_tokens_encoder:
            return self._added_tokens_encoder[self.unk_token]
        raise ValueError(f"Unknown token {token!r}; this vocabulary has t0 .. t{self.vocab_size - 1} (pass "
                         "unk_token=... to map unknown tokens to it)")

    def _convert_id_to_token(self, index: int) -> str:
        if index not in self.decoder:
            raise ValueError(f"Token id {index!r} is outside this vocabulary (0 .. {self.vocab_size - 1})")
        return self.decoder[index]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        if not os.path.isdir(save_directory):
            raise ValueError(f"Vocabulary path ({save_directory}) should be a directory")
        name = (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILES_NAMES["vocab_file"]
        path = os.path.join(save_directory, name)
        write_file_atomic(path, lambda f: f.write(json.dumps(self.encoder, indent=1).encode("utf-8")))
        return (path,)


__all__ = ["Wav2TokTokenizer"]
