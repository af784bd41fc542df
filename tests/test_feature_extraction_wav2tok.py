import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor

from wav2tok_test_utils import tiny_config, tone
from wav2tok_hf import Wav2TokFeatureExtractor

FEATURE_TYPES = ["log-mel", "mfcc", "cqt", "pitch"]


def extractor(**overrides):
    return Wav2TokFeatureExtractor.from_model_config(tiny_config(**overrides))


@pytest.mark.parametrize("feature_type", FEATURE_TYPES)
def test_shapes_mask_and_dtype(feature_type):
    fe = extractor(feature_type=feature_type)
    batch = fe([tone(1.0), tone(0.5, freq=330)], sampling_rate=8000, return_tensors="pt")
    feats, mask = batch["input_features"], batch["attention_mask"]
    assert feats.dtype == torch.float32 and feats.shape == (2, fe.num_frames(8000), fe.feature_size)
    assert mask.sum(1).tolist() == [fe.num_frames(8000), fe.num_frames(4000)]
    assert torch.all(feats[1, fe.num_frames(4000):] == 0)  # padding is zero
    assert torch.isfinite(feats).all()


@pytest.mark.parametrize("feature_type", FEATURE_TYPES)
def test_padding_never_changes_features(feature_type):
    fe = extractor(feature_type=feature_type)
    short, long = tone(0.6, freq=300, seed=1), tone(1.7, freq=200, seed=2)
    alone = fe(short, sampling_rate=8000, return_tensors="pt")["input_features"][0]
    batched = fe([long, short], sampling_rate=8000, return_tensors="pt")["input_features"][1, : alone.shape[0]]
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_resampling_to_the_model_rate():
    fe = extractor()
    at_16k = tone(1.0, sr=16000)  # 1 s at 16 kHz becomes 8000 samples at the model's 8 kHz
    out = fe(at_16k, sampling_rate=16000, return_tensors="pt")
    assert out["attention_mask"].sum().item() == fe.num_frames(8000)


def test_pitch_features_are_transposition_invariant():
    fe = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_context_semitones=12)
    melody = [220.0, 247.0, 277.0, 220.0]

    def render(shift):
        return np.concatenate([tone(0.3, freq=f * 2 ** (shift / 12), seed=3) for f in melody])

    base, up = fe([render(0), render(4)], sampling_rate=8000, return_tensors="pt")["input_features"]
    relative = slice(fe.feature_size - 4, fe.feature_size - 3)
    torch.testing.assert_close(base[:, relative], up[:, relative], atol=0.1, rtol=0)
    assert torch.corrcoef(torch.stack([base[:, :-4].flatten(), up[:, :-4].flatten()]))[0, 1] > 0.8
    # log-mel features, by contrast, move with the key.
    mel = extractor(feature_type="log-mel")
    a, b = mel([render(0), render(4)], sampling_rate=8000, return_tensors="pt")["input_features"]
    assert (a - b).abs().mean() > 0.3


def test_pitch_class_reference_ignores_octave_jumps():
    """A singer who drops an octave for the second half keeps the same pitch-class features (and key reference)
    with ``pitch_reference="pitch-class"`` and a folded one-hot; the mean reference moves with the jump."""
    melody = [220.0, 247.0, 277.0, 220.0, 196.0, 220.0]

    def render(octave_drop):
        return np.concatenate([tone(0.3, freq=f / (2 if octave_drop and k >= 3 else 1), seed=4)
                               for k, f in enumerate(melody)])

    folded = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_reference="pitch-class",
                       pitch_fold_octave=True)
    assert folded.feature_size == 12 + 4
    def agreement(fe):  # median cosine similarity of the frames' pitch-class vectors in the two renditions
        same, jumped = fe([render(False), render(True)], sampling_rate=8000, return_tensors="pt")["input_features"]
        return torch.nn.functional.cosine_similarity(same[:, :12], jumped[:, :12], dim=1).median().item()

    assert agreement(folded) > 0.9
    mean = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_reference="mean", pitch_fold_octave=True)
    assert agreement(mean) < 0.5


@pytest.mark.parametrize("reference", ["mean", "pitch-class", "pitch-class-tuned"])
@pytest.mark.parametrize("fold", [False, True])
def test_pitch_key_references_are_exactly_transposition_equivariant(reference, fold):
    fe = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_reference=reference, pitch_fold_octave=fold)
    melody = [220.0, 262.0, 294.0, 330.0, 262.0]

    def render(shift):
        return np.concatenate([tone(0.3, freq=f * 2 ** (shift / 12), seed=5) for f in melody])

    base, up = fe([render(0), render(3)], sampling_rate=8000, return_tensors="pt")["input_features"]
    pitch_dims = slice(0, fe.feature_size - 2)  # one-hot, relative pitch, slope (not voicing/energy)
    assert (base[:, pitch_dims] - up[:, pitch_dims]).abs().median() < 0.02


def test_interval_features_need_no_key_and_ignore_octave_errors():
    """pitch_interval_lags: the features are those of the intervals, so a transposition by any amount (no key is
    estimated to slip) and an octave error of a whole note change nothing but the frames bordering it."""
    fe = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_contour_scalars=False,
                   pitch_interval_lags=[2, 8])
    melody = [220.0, 262.0, 294.0, 330.0, 262.0]

    def render(shift, octave_note=None):
        return np.concatenate([tone(0.3, freq=f * 2 ** (shift / 12) / (2 if k == octave_note else 1), seed=5)
                               for k, f in enumerate(melody)])

    base, up, octave = fe([render(0), render(3.4), render(0, octave_note=2)], sampling_rate=8000,
                          return_tensors="pt")["input_features"]
    intervals = slice(0, 24)
    assert fe.feature_size == 2 * 12 + 2
    assert (base[:, intervals] - up[:, intervals]).abs().median() < 0.02
    assert (base[:, intervals] - octave[:, intervals]).abs().median() < 0.02
    with pytest.raises(ValueError, match="pitch_interval_lags=.*does not have"):  # key jitter has no key to move
        fe.featurize([render(0)], key_offsets=[0.5])
    # the 2-frame lag sees a note change as a non-zero interval: 262 -> 294 Hz is 2 semitones
    change = fe.num_frames(int(0.3 * 8000 * 2)) + 1
    assert base[change, :12].argmax().item() == 2


def test_sliding_normalisation_makes_a_word_in_context_look_like_the_word_alone():
    """normalization_window_s: each frame is normalised over a centred window, so the middle frames of a sound cut
    out of a longer clip and the same frames inside it agree, where whole-clip statistics change every frame; a clip
    gives the same frames alone or in a padded batch."""
    hop = tiny_config().hop_length
    word = np.concatenate([tone(0.1, freq=f, seed=7) for f in (300, 450, 250, 600, 350, 500, 280, 420)])
    before, after = tone(94 * hop / 8000, freq=900, seed=8) * 3, tone(1.5, freq=150, seed=9) * 3
    context = np.concatenate([before, word, after])  # the word starts exactly on frame 94

    def gap(window):
        fe = extractor(feature_type="log-mel", normalization_window_s=window)
        alone, inside = fe([word, context], sampling_rate=8000, return_tensors="pt")["input_features"]
        middle = slice(fe.num_frames(len(word)) // 2 - 3, fe.num_frames(len(word)) // 2 + 3)  # > 0.25 s from the edges
        return (alone[middle] - inside[94:][middle]).abs().mean().item()

    assert gap(None) > 0.5 and gap(0.25) < 1e-3
    fe = extractor(feature_type="log-mel", normalization_window_s=0.25)
    single = fe(word, sampling_rate=8000, return_tensors="pt")["input_features"][0]
    batched = fe([context, word], sampling_rate=8000, return_tensors="pt")["input_features"][1, : single.shape[0]]
    torch.testing.assert_close(batched, single)


def test_tuned_key_is_the_tuning_plus_whole_semitones_near_the_steady_key():
    """pitch_reference="pitch-class-tuned": the key's fraction of a semitone is the clip's tuning, its whole part the
    nearest to the steady key's, so two estimates of one performance differ by whole semitones only."""
    from wav2tok_hf.pitch import key_reference

    pitch = torch.tensor([[60.3] * 10 + [62.3] * 10 + [64.3] * 5])  # every note 0.3 st sharp
    voiced = torch.ones_like(pitch, dtype=torch.bool)
    steady, tuned = (key_reference(pitch, voiced, kind) for kind in ("pitch-class", "pitch-class-tuned"))
    assert tuned.item() == pytest.approx(61.3, abs=1e-4) and abs(tuned.item() - steady.item()) <= 0.5
    held = torch.tensor([[60.3] * 20 + [62.3] * 10 + [64.3] * 5])  # a longer first note moves the steady key
    moved = key_reference(held, torch.ones_like(held, dtype=torch.bool), "pitch-class-tuned")
    assert (moved - tuned).item() == pytest.approx(round((moved - tuned).item()), abs=1e-4)


def test_pitch_without_contour_scalars_drops_exactly_relative_pitch_and_slope():
    full = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_reference="pitch-class", pitch_fold_octave=True)
    lean = extractor(feature_type="pitch", n_fft=512, fmin=65.0, pitch_reference="pitch-class", pitch_fold_octave=True,
                     pitch_contour_scalars=False)
    wave = np.concatenate([tone(0.3, freq=f, seed=6) for f in (220.0, 262.0, 330.0)])
    a, b = (fe(wave, sampling_rate=8000, return_tensors="pt")["input_features"][0] for fe in (full, lean))
    assert lean.feature_size == b.shape[-1] == 14 and full.feature_size == 16
    kept = list(range(12)) + [14, 15]  # the pitch classes, voicing strength, energy
    torch.testing.assert_close(a[:, kept], b)


def test_numpy_output_and_save_round_trip(tmp_path):
    fe = extractor(feature_type="mfcc")
    out = fe(tone(0.5), sampling_rate=8000, return_tensors="np")
    assert isinstance(out["input_features"], np.ndarray)
    fe.save_pretrained(tmp_path)
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(loaded, Wav2TokFeatureExtractor) and loaded.to_dict() == fe.to_dict()


def test_bad_arguments():
    fe = extractor()
    with pytest.raises(ValueError, match="empty batch"):
        fe([], sampling_rate=8000)
    with pytest.raises(ValueError, match="return_tensors='tf'"):
        fe(tone(0.1), sampling_rate=8000, return_tensors="tf")
    # padding="max_length" is accepted now (transformers' convention) but needs max_length; unknown names still fail.
    with pytest.raises(ValueError, match="need max_length"):
        fe(tone(0.1), sampling_rate=8000, padding="max_length")
    with pytest.raises(TypeError, match="Unexpected arguments"):
        fe(tone(0.1), sampling_rate=8000, paddding="max_length")
    with pytest.raises(ValueError, match="feature_type"):
        Wav2TokFeatureExtractor(feature_type="spectrogram")
