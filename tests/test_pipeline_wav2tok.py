import numpy as np
import pytest
import soundfile as sf
from transformers import pipeline

from wav2tok_test_utils import tiny_config, tone
from wav2tok_hf import Wav2TokModel, Wav2TokProcessor


@pytest.fixture
def model_dir(tmp_path):
    config = tiny_config()
    Wav2TokModel(config).save_pretrained(tmp_path / "wav2tok-tiny")
    Wav2TokProcessor.from_model_config(config).save_pretrained(tmp_path / "wav2tok-tiny")
    return tmp_path / "wav2tok-tiny"


def test_pipeline_on_path_array_and_batch(model_dir, tmp_path):
    tok = pipeline("audio-tokenization", model=str(model_dir))
    wave = tone(1.0, freq=300)
    path = tmp_path / "query.wav"
    sf.write(path, wave, 8000)
    from_path = tok(str(path))
    from_array = tok(wave)
    assert set(from_path) == {"token_ids", "tokens", "durations_s"}
    assert from_path["token_ids"] == from_array["token_ids"] == tok.model.encode(wave, sampling_rate=8000)
    assert from_path["tokens"] == " ".join(f"t{i}" for i in from_path["token_ids"])
    assert sum(from_path["durations_s"]) == pytest.approx(tok.model.feature_extractor.num_frames(8000) / 62.5)
    # batching (with padding inside the batch) gives the same result as one by one
    clips = [tone(0.3, freq=200, seed=1), wave, tone(0.7, freq=500, seed=2)]
    batched = tok(clips, batch_size=3)
    assert [b["token_ids"] for b in batched] == [tok(c)["token_ids"] for c in clips]
    # a dict with its own rate is resampled
    resampled = tok({"array": tone(1.0, sr=16000, freq=300), "sampling_rate": 16000})
    assert len(resampled["token_ids"]) > 0
    # with max_token_run the pipeline splits long runs as the model's encode does
    tok.model.config.max_token_run = 2
    capped = tok(wave)
    assert capped["token_ids"] == tok.model.encode(wave, sampling_rate=8000)
    assert len(capped["token_ids"]) >= len(from_array["token_ids"]) and max(capped["durations_s"]) <= 2 / 62.5 + 1e-9


def test_pipeline_on_a_datasets_audio_column(model_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    paths = []
    for i, freq in enumerate((220, 330)):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], tone(0.5, freq=freq, seed=i), 8000)
    ds = datasets.Dataset.from_dict({"audio": paths}).cast_column("audio", datasets.Audio(sampling_rate=8000))
    tok = pipeline("audio-tokenization", model=str(model_dir))
    from_column = [tok(row["audio"])["token_ids"] for row in ds]
    assert from_column == [tok(p)["token_ids"] for p in paths]
    assert tok(ds["audio"][0])["token_ids"] == from_column[0]


def test_pipeline_rejects_unknown_arguments(model_dir):
    tok = pipeline("audio-tokenization", model=str(model_dir))
    with pytest.raises(TypeError, match="Unexpected arguments"):
        tok(np.zeros(800, np.float32), top_k=3)
    with pytest.raises(ValueError, match="empty"):
        tok(np.zeros(0, np.float32))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU (the device machine runs it)")
def test_pipeline_on_a_gpu_tokenises_as_the_model_does_there(model_dir):
    """``pipeline(..., device=0)`` moves its inputs to the GPU before ``_forward``; the tokens are the model's own
    there, one by one and batched (the inputs once reached numpy through ``.numpy()`` and failed on a GPU)."""
    tok = pipeline("audio-tokenization", model=str(model_dir), device=0)
    assert tok.model.device.type == "cuda"
    clips = [tone(0.3, freq=200, seed=1), tone(1.0, freq=300), tone(0.7, freq=500, seed=2)]
    expected = tok.model.encode(clips, sampling_rate=8000)
    assert [tok(c)["token_ids"] for c in clips] == expected
    assert [b["token_ids"] for b in tok(clips, batch_size=3)] == expected
