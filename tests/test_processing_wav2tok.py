import json

from transformers import AutoProcessor

from wav2tok_test_utils import tiny_config, tone
from wav2tok_hf import Wav2TokProcessor


def test_processor_round_trip_single_config_file(tmp_path):
    config = tiny_config(codebook_size=9, feature_type="mfcc")
    processor = Wav2TokProcessor.from_model_config(config)
    config.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["feature_extractor"]["feature_type"] == "mfcc"
    assert not (tmp_path / "preprocessor_config.json").exists()
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, Wav2TokProcessor)
    assert loaded.feature_extractor.to_dict() == processor.feature_extractor.to_dict()
    assert loaded.tokenizer.vocab_size == 9
    assert loaded.decode([1, 8]) == "t1 t8" and loaded.batch_decode([[0], [2, 3]]) == ["t0", "t2 t3"]
    features = loaded(tone(0.5), sampling_rate=8000)
    assert features["input_features"].shape[-1] == config.feature_size
