import pytest
from transformers import AutoTokenizer

from wav2tok_test_utils import tiny_config
from wav2tok_hf import Wav2TokTokenizer


def test_ids_tokens_text_round_trip():
    tok = Wav2TokTokenizer.from_codebook_size(25)
    assert tok.vocab_size == 25 and len(tok) == 25
    assert tok.decode([3, 17, 5]) == "t3 t17 t5"
    assert tok.batch_decode([[1, 2], [24]]) == ["t1 t2", "t24"]
    assert tok.convert_ids_to_tokens([0, 24]) == ["t0", "t24"]
    assert tok.convert_tokens_to_ids(["t3", "t17"]) == [3, 17]
    assert tok("t3 t17 t5", add_special_tokens=False)["input_ids"] == [3, 17, 5]


def test_save_and_auto_load(tmp_path):
    tiny_config(codebook_size=7).save_pretrained(tmp_path)
    Wav2TokTokenizer.from_codebook_size(7).save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(loaded, Wav2TokTokenizer) and loaded.get_vocab() == {f"t{i}": i for i in range(7)}


def test_out_of_vocabulary_is_an_error():
    tok = Wav2TokTokenizer.from_codebook_size(5)
    with pytest.raises(ValueError, match="outside this vocabulary"):
        tok.decode([7])
    with pytest.raises(ValueError, match="Unknown token 'x9'"):
        tok.convert_tokens_to_ids(["x9"])
    with pytest.raises(ValueError, match="codebook_size"):
        Wav2TokTokenizer.from_codebook_size(1)
