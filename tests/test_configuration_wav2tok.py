import json

import pytest
from transformers import AutoConfig

import wav2tok_hf  # noqa: F401  (registers the Auto classes)
from wav2tok_hf import Wav2TokConfig


def test_defaults_follow_the_paper():
    config = Wav2TokConfig()
    assert (config.encoder_type, config.num_layers, config.hidden_size, config.dropout) == ("bilstm", 2, 256, 0.25)
    assert config.temperature == 0.1 and config.alpha == config.beta == 0.01


@pytest.mark.parametrize(
    "feature_type,expected",
    [("log-mel", 64), ("mfcc", 39), ("cqt", 60), ("pitch", 37 + 4)],
)
def test_feature_size(feature_type, expected):
    assert Wav2TokConfig(feature_type=feature_type).feature_size == expected


def test_encoder_input_size():
    assert Wav2TokConfig(feature_type="cqt").encoder_input_size == 60
    assert Wav2TokConfig(feature_type="cqt", frequency_conv_channels=16).encoder_input_size == 32


def test_folded_pitch_feature_size():
    config = Wav2TokConfig(feature_type="pitch", pitch_fold_octave=True, bins_per_semitone=2)
    assert config.feature_size == 24 + 4
    assert Wav2TokConfig(feature_type="pitch", pitch_fold_octave=True, pitch_contour_scalars=False).feature_size == 12 + 2


def test_interval_pitch_feature_size():
    config = Wav2TokConfig(feature_type="pitch", pitch_contour_scalars=False, pitch_interval_lags=[4, 8, 16])
    assert config.feature_size == 3 * 12 + 2


def test_auto_config_for_model_and_round_trip(tmp_path):
    config = AutoConfig.for_model("wav2tok", codebook_size=25, sampling_rate=8000)
    assert isinstance(config, Wav2TokConfig)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "wav2tok" and saved["codebook_size"] == 25
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert loaded.to_diff_dict() == config.to_diff_dict()


@pytest.mark.parametrize(
    "bad,match",
    [
        (dict(feature_type="wavelet"), "feature_type='wavelet'; accepted"),
        (dict(encoder_type="gru"), "encoder_type"),
        (dict(codebook_size=1), "codebook_size=1"),
        (dict(hop_length=0), "hop_length=0"),
        (dict(hop_length=1024, n_fft=512), "must not exceed n_fft"),
        (dict(sampling_rate=8000, fmin=5000), "fmin=5000"),
        (dict(temperature=0), "temperature=0"),
        (dict(substitution_temperature=-0.1), "substitution_temperature=-0.1"),
        (dict(dropout=1.5), "dropout=1.5"),
        (dict(hidden_size=33), "must be even"),
        (dict(similarity="dot"), "similarity"),
        (dict(pitch_reference="median"), "pitch_reference='median'; accepted"),
        (dict(feature_type="pitch", pitch_contour_scalars=False, pitch_interval_lags=[0]), "positive frame lags"),
        (dict(normalization_window_s=0), "normalization_window_s=0; expected None"),
        (dict(feature_type="pitch", pitch_interval_lags=[4]), "needs pitch_contour_scalars=False"),
        (dict(pitch_contour_scalars=False, pitch_interval_lags=[4]), "needs feature_type='pitch'; got"),
        (dict(feature_type="mfcc", frequency_conv_channels=8), "needs a frequency axis: feature_type='mfcc'"),
        (dict(feature_type="cqt", n_semitones=6, frequency_conv_channels=8, frequency_conv_layers=4), "too few"),
        (dict(frequency_conv_channels=-1), "frequency_conv_channels=-1"),
        (dict(query_pitch_shifts=[]), r"query_pitch_shifts=\[\]; expected None or a non-empty list"),
        (dict(query_pitch_shifts=[0, 30]), "each within"),
        (dict(query_pitch_shifts=[float("nan")]), "query_pitch_shifts"),
        (dict(graph_candidates=0), "graph_candidates=0; expected None"),
        (dict(graph_candidates=True), "graph_candidates=True"),
    ],
)
def test_invalid_values_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        Wav2TokConfig(**bad)


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="temperature='hot'; expected a number"):
        Wav2TokConfig(temperature="hot")
