import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoModel

from wav2tok_test_utils import tiny_config, tone
from wav2tok_hf import Wav2TokModel, Wav2TokModelOutput, collapse_runs
from wav2tok_hf.modeling_wav2tok import Wav2TokFrequencyConv, codebook_substitution_costs, reverse_padded

FREQUENCY_CONV = dict(feature_type="cqt", n_semitones=24, fmin=100.0, frequency_conv_channels=4, frequency_conv_layers=2)
ENCODERS = [dict(encoder_type="bilstm"), dict(encoder_type="transformer", num_attention_heads=2, hidden_size=16),
            FREQUENCY_CONV]


def make_model(**overrides) -> Wav2TokModel:
    torch.manual_seed(0)
    return Wav2TokModel(tiny_config(**overrides)).eval()


def clips():
    return [tone(1.3, freq=180, seed=1), tone(0.4, freq=400, seed=2), tone(2.1, freq=260, seed=3)]


def test_collapse_runs():
    assert collapse_runs([1, 1, 3, 7, 7]) == ([1, 3, 7], [2, 1, 2])
    assert collapse_runs([]) == ([], [])


def test_codebook_substitution_costs():
    codewords = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 2.0], [-3.0, 0.0]])
    costs = codebook_substitution_costs(codewords, temperature=0.4)
    assert costs.dtype == np.float32 and costs.shape == (4, 4)
    np.testing.assert_allclose(np.diag(costs), 0.0)
    np.testing.assert_allclose(costs, costs.T)
    assert costs[0, 1] == pytest.approx(0.5)  # cos 0.8: (1 - 0.8) / 0.4; scale of a codeword does not matter
    assert costs[0, 2] == pytest.approx(2.0) and costs[0, 3] == pytest.approx(2.0)  # capped at delete + insert
    with pytest.raises(ValueError, match="temperature"):
        codebook_substitution_costs(codewords, temperature=0)
    with pytest.raises(ValueError, match="finite"):
        codebook_substitution_costs(np.array([[np.nan, 1.0]]), temperature=0.4)


def test_reverse_padded_reverses_within_length():
    x = torch.arange(10.0).view(2, 5, 1)
    out = reverse_padded(x, torch.tensor([5, 3]))
    assert out[0, :, 0].tolist() == [4, 3, 2, 1, 0] and out[1, :, 0].tolist() == [7, 6, 5, 8, 9]


@pytest.mark.parametrize("encoder", ENCODERS)
def test_forward_returns_typed_output(encoder):
    model = make_model(**encoder)
    fe = model.feature_extractor
    batch = fe(clips(), sampling_rate=8000, return_tensors="pt")
    out = model(**batch)
    assert isinstance(out, Wav2TokModelOutput)
    b, t = batch["attention_mask"].shape
    assert out.logits.shape == (b, t, 12) and out.embeddings.shape == (b, t, 8)
    assert out.lengths.tolist() == batch["attention_mask"].sum(1).tolist()
    valid = batch["attention_mask"].bool()
    torch.testing.assert_close(out.embeddings[valid].norm(dim=-1), torch.ones(int(valid.sum())))
    assert (out.frame_tokens[~valid] == -1).all() and (out.frame_tokens[valid] >= 0).all()
    assert out.logits.abs().max() <= 1 / model.config.temperature + 1e-4
    assert isinstance(model(**batch, return_dict=False), tuple)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_batched_equals_one_by_one_and_padding_invariance(encoder):
    model = make_model(**encoder)
    audio = clips()
    batched = model.encode(audio, sampling_rate=8000)
    assert batched == [model.encode(a, sampling_rate=8000) for a in audio]
    # padding: embeddings of a clip alone vs. padded next to a longer one
    fe = model.feature_extractor
    alone = model(**fe(audio[1], sampling_rate=8000, return_tensors="pt")).embeddings[0]
    padded = model(**fe([audio[2], audio[1]], sampling_rate=8000, return_tensors="pt")).embeddings[1, : alone.shape[0]]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)


def test_frequency_conv_output_is_invariant_to_shifts_along_frequency():
    torch.manual_seed(0)
    conv = Wav2TokFrequencyConv(channels=4, num_layers=3, kernel=5).eval()
    frames = torch.zeros(2, 30, 128)
    frames[:, :, 52:76] = torch.randn(2, 30, 24)  # content farther from the edges than the receptive field
    lengths = torch.tensor([30, 17])
    out = conv(frames, lengths)
    assert out.shape == (2, 30, 8)
    assert (out[1, 17:] == 0).all()  # frames past the length stay zero
    for shift in (-8, -4, 4, 12):  # multiples of 2 ** (num_layers - 1): exact
        torch.testing.assert_close(conv(torch.roll(frames, shift, dims=2), lengths), out)
    moved = conv(torch.roll(frames, 1, dims=2), lengths)  # other shifts: close, not equal
    assert 0 < (moved - out).abs().max() < out.abs().max()


def test_frequency_conv_model_reads_pitch_shifted_audio_nearly_alike():
    from wav2tok_hf.data.augment import pitch_shift

    model = make_model(**FREQUENCY_CONV)
    fe = model.feature_extractor
    wave, shifted = tone(1.0, freq=200), pitch_shift(tone(1.0, freq=200), 8000, 4)

    def features(audio):
        return fe(audio, sampling_rate=8000, return_tensors="pt")["input_features"]

    def encoder_input(audio):
        batch = fe(audio, sampling_rate=8000, return_tensors="pt")
        with torch.no_grad():
            return model.frequency_conv(batch["input_features"], batch["attention_mask"].sum(1))

    def change(a, b):
        return float((a - b).norm() / a.norm())

    # a 4-semitone shift moves the encoder's input much less than it moves the log-frequency frames themselves
    assert change(encoder_input(wave), encoder_input(shifted)) < 0.5 * change(features(wave), features(shifted))


def test_encode_durations_and_bounds():
    model = make_model()
    ids, durations = model.encode(tone(1.0), sampling_rate=8000, return_durations=True)
    assert len(ids) == len(durations) and all(0 <= i < 12 for i in ids)
    assert all(a != b for a, b in zip(ids, ids[1:]))  # repeats collapsed
    assert sum(durations) == pytest.approx(model.feature_extractor.num_frames(8000) / model.config.frame_rate)
    batch_ids, batch_durations = model.encode([tone(1.0)], sampling_rate=8000, return_durations=True)
    assert batch_ids == [ids] and batch_durations == [durations]


def test_max_token_run_keeps_durations_in_the_token_string():
    collapsed = make_model()
    capped = make_model(max_token_run=2)
    frames = collapsed.frame_outputs(tone(2.0), sampling_rate=8000)[0][0]
    ids, durations = capped.encode(tone(2.0), sampling_rate=8000, return_durations=True)
    runs = collapse_runs(frames)[1]
    assert len(ids) == sum(-(-r // 2) for r in runs) > len(collapsed.encode(tone(2.0), sampling_rate=8000))
    assert sum(durations) == pytest.approx(len(frames) / capped.config.frame_rate)
    assert max(durations) <= 2 / capped.config.frame_rate + 1e-9
    # the same tokens in the same order, each run repeated
    assert collapse_runs(ids)[0] == collapsed.encode(tone(2.0), sampling_rate=8000)
    with pytest.raises(ValueError, match="max_token_run"):
        make_model(max_token_run=-1)


@pytest.mark.parametrize("overrides", [{}, FREQUENCY_CONV], ids=["bilstm", "frequency-conv"])
def test_save_load_round_trip_is_bit_identical(tmp_path, overrides):
    model = make_model(**overrides)
    model.set_codebook(torch.randn(12, 8))
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, Wav2TokModel)
    torch.testing.assert_close(loaded.codebook, model.codebook, atol=0, rtol=0)
    assert loaded.encode(clips(), sampling_rate=8000) == model.encode(clips(), sampling_rate=8000)


def test_set_codebook_validates_and_normalises():
    model = make_model()
    model.set_codebook(3 * torch.randn(12, 8))
    torch.testing.assert_close(model.codebook.norm(dim=-1), torch.ones(12))
    with pytest.raises(ValueError, match="shape"):
        model.set_codebook(torch.randn(5, 8))
    with pytest.raises(ValueError, match="NaN"):
        model.set_codebook(torch.full((12, 8), float("nan")))


def test_all_zero_audio_is_handled():
    ids = make_model().encode(np.zeros(8000, np.float32), sampling_rate=8000)
    assert len(ids) >= 1


def test_bad_inputs():
    model = make_model()
    with pytest.raises(ValueError, match="no sampling_rate"):
        model.encode(tone(0.2))
    with pytest.raises(ValueError, match="empty"):
        model.encode(np.zeros(0, np.float32), sampling_rate=8000)
    with pytest.raises(ValueError, match="NaN/inf"):
        model.encode(np.full(100, np.nan, np.float32), sampling_rate=8000)
    with pytest.raises(ValueError, match="dimensions"):
        model.encode(np.zeros((1, 2, 100), np.float32), sampling_rate=8000)
    with pytest.raises(ValueError, match=r"input_features must have shape \(batch, frames, 24\)"):
        model(torch.zeros(1, 10, 5))


def test_long_input_is_chunked_without_changing_frame_count():
    model = make_model(chunk_length_s=1.0)
    wave = tone(3.7)
    tokens, embeddings = model.frame_outputs(wave, sampling_rate=8000)[0]
    assert tokens.shape == (model.feature_extractor.num_frames(len(wave)),) and embeddings.shape[0] == tokens.shape[0]


def test_one_hour_file_is_encoded_in_bounded_memory(tmp_path):
    """A 1-hour WAV tokenises chunk by chunk; peak RSS stays far below the cost of an unchunked pass."""
    path = tmp_path / "hour.wav"
    sr, seconds = 8000, 3600
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for minute in range(seconds // 60):
            f.write(tone(60.0, sr=sr, freq=150 + minute, seed=minute))
    model_dir = tmp_path / "model"
    make_model(chunk_length_s=30.0).save_pretrained(model_dir)
    script = textwrap.dedent(f"""
        import resource, wav2tok_hf
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(model_dir)!r})
        ids, durations = model.encode({str(path)!r}, return_durations=True)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(len(ids), round(sum(durations)), int(peak_mb))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    n_tokens, total_s, peak_mb = map(int, out.stdout.split())
    assert n_tokens > 100 and total_s == seconds
    assert peak_mb < 3000
