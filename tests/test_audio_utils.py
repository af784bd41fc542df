import numpy as np
import pytest
import soundfile as sf
import torch

from wav2tok_hf.audio_utils import load_audio, to_mono_float32


def test_int16_stereo_to_mono_float32():
    stereo = np.stack([np.full(100, 16384, np.int16), np.zeros(100, np.int16)])
    mono = to_mono_float32(stereo)
    assert mono.dtype == np.float32 and mono.shape == (100,)
    np.testing.assert_allclose(mono, 0.25, atol=1e-4)
    np.testing.assert_array_equal(to_mono_float32(stereo.T), mono)  # (samples, channels) too


def test_float64_tensor_and_list_inputs():
    wave, sr = load_audio(torch.ones(800, dtype=torch.float64), sampling_rate=8000)
    assert wave.dtype == np.float32 and sr == 8000
    wave, _ = load_audio([0.0, 0.5, -0.5], sampling_rate=8000)
    assert wave.tolist() == [0.0, 0.5, -0.5]


def test_resampling_keeps_duration_and_pitch():
    sr = 16000
    t = np.arange(sr) / sr
    wave, out_sr = load_audio(np.sin(2 * np.pi * 440 * t).astype(np.float32), sampling_rate=sr, target_sampling_rate=8000)
    assert out_sr == 8000 and wave.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 8000 / len(wave) - 440) < 2


def test_files_bytes_and_datasets_dicts(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.linspace(-0.5, 0.5, 4000).astype(np.float32), 8000)
    from_path, sr = load_audio(str(path))
    assert sr == 8000 and from_path.shape == (4000,)
    from_bytes, _ = load_audio({"path": None, "bytes": path.read_bytes()})
    np.testing.assert_array_equal(from_bytes, from_path)
    from_dict, _ = load_audio({"array": from_path, "sampling_rate": 8000}, target_sampling_rate=16000)
    assert from_dict.shape == (8000,)


@pytest.mark.parametrize(
    "audio,kwargs,error,match",
    [
        (np.zeros(0, np.float32), dict(sampling_rate=8000), ValueError, "empty"),
        (np.array([0.0, np.nan], np.float32), dict(sampling_rate=8000), ValueError, "NaN/inf"),
        (np.array([0.0, np.inf]), dict(sampling_rate=8000), ValueError, "NaN/inf"),
        (np.zeros((2, 3, 4), np.float32), dict(sampling_rate=8000), ValueError, "3 dimensions"),
        (np.zeros(10, np.float32), {}, ValueError, "no sampling_rate"),
        (np.zeros(10, np.float32), dict(sampling_rate=-5), ValueError, "positive integer"),
        ({"foo": 1}, {}, ValueError, "none of 'array', 'bytes', 'path'"),
        (object(), dict(sampling_rate=8000), TypeError, "Unsupported audio input"),
        (np.array(["a", "b"]), dict(sampling_rate=8000), TypeError, "dtype"),
    ],
)
def test_bad_inputs_give_clear_errors(audio, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_audio(audio, **kwargs)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(str(tmp_path / "missing.wav"))
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    with pytest.raises(ValueError, match="Could not decode"):
        load_audio(str(bad))
