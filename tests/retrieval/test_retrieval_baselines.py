"""Baseline registry, each baseline's representation, the local Wav2Vec2ForCTC path and the Hub skip error."""

import time

import numpy as np
import pytest
import torch

from wav2tok_hf.retrieval import (
    BaselineUnavailable,
    RetrievalBaseline,
    Vocabulary,
    Wav2TokIndex,
    create_baseline,
    list_baselines,
    register_baseline,
    unregister_baseline,
)

SR = 8000


def melody(notes, note_s=0.25, sr=SR, gap_s=0.0):
    """Harmonic tones (3 partials) for MIDI notes, optionally separated by silence."""
    parts = []
    for note in notes:
        f0 = 440.0 * 2 ** ((note - 69) / 12)
        t = np.arange(int(note_s * sr)) / sr
        tone = sum(0.5 ** h * np.sin(2 * np.pi * (h + 1) * f0 * t) for h in range(3))
        parts += [tone * np.hanning(len(t)) ** 0.1, np.zeros(int(gap_s * sr))]
    return np.concatenate(parts).astype(np.float32) * 0.3


def test_registry():
    assert {"logmel-dtw", "vq-logmel-ed", "pitch-notes-ed", "relative-note-dtw", "wav2vec2-o", "wav2vec2-multi",
            "hub-ctc"} <= set(list_baselines())
    assert list_baselines("*-dtw") == ["logmel-dtw", "pitch-contour-dtw", "relative-note-dtw"]
    with pytest.raises(KeyError, match="registered:"):
        create_baseline("no-such-baseline")
    with pytest.raises(ValueError, match="already registered"):
        register_baseline("logmel-dtw")(RetrievalBaseline)

    @register_baseline("test-length")
    class Length(RetrievalBaseline):
        vocabulary = Vocabulary("test-length", 100)

        def encode(self, audio, sampling_rate=None, return_durations=False):
            return [[min(99, len(a) // 100)] for a in audio]

    try:
        baseline = create_baseline("test-length")
        assert baseline.fit([np.zeros(10)], 8000) is baseline  # fit is a no-op by default
        assert baseline.encode([np.zeros(500)]) == [[5]]
    finally:
        unregister_baseline("test-length")
    assert "test-length" not in list_baselines()


@pytest.mark.parametrize("tracker", ["harmonic", "pyin"])
def test_pitch_notes_ed(tracker):
    baseline = create_baseline("pitch-notes-ed", tracker=tracker)
    clip = melody([60, 64, 67, 72])
    ids, durations = baseline.encode([clip, melody([62, 66, 69, 74])], sampling_rate=SR, return_durations=True)
    assert ids == [[60, 64, 67, 72], [62, 66, 69, 74]]
    assert sum(durations[0]) == pytest.approx(len(clip) / SR)
    assert baseline.encode(np.zeros(SR, np.float32), sampling_rate=SR) != []  # never empty
    assert baseline.vocabulary.size == 128


def test_pitch_notes_resamples_input():
    baseline = create_baseline("pitch-notes-ed")
    assert baseline.encode(melody([60, 67], sr=16000), sampling_rate=16000) == [60, 67]


def test_relative_note_dtw_is_transposition_invariant_and_retrieves():
    baseline = create_baseline("relative-note-dtw")
    a, b = baseline.encode([melody([60, 64, 67, 72]), melody([65, 69, 72, 77])], sampling_rate=SR)
    assert a.shape == (3, 2)
    np.testing.assert_allclose(a, b, atol=0.2)
    index = Wav2TokIndex.from_encoder(baseline)
    assert (index.kind, index.metric) == ("frames", "euclidean")
    songs = {"up": [60, 62, 64, 65], "down": [72, 70, 69, 65], "jump": [60, 67, 60, 67]}
    index.add_audio(baseline, [melody(n) for n in songs.values()], sampling_rate=SR, ids=list(songs))
    result = index.search_audio(baseline, melody([n + 3 for n in songs["down"]], note_s=0.3), sampling_rate=SR)
    assert result.ids[0] == "down"


def test_pitch_contour_dtw_ignores_key_and_octave_and_retrieves():
    baseline = create_baseline("pitch-contour-dtw")
    notes = [60, 64, 67, 64, 62, 60]
    base, up, octave_jump = baseline.encode(
        [melody(notes), melody([n + 5 for n in notes]), melody(notes[:3] + [n - 12 for n in notes[3:]])],
        sampling_rate=SR)
    assert base.shape[1] == 2 and base.shape[0] > len(notes)
    steady = slice(2, -2)  # away from the first and last onsets
    np.testing.assert_allclose(np.median(np.abs(base - up)[steady]), 0.0, atol=0.05)
    np.testing.assert_allclose(np.median(np.abs(base - octave_jump)[steady]), 0.0, atol=0.05)
    index = Wav2TokIndex.from_encoder(baseline)
    songs = {"up": [60, 62, 64, 65], "down": [72, 70, 69, 65], "jump": [60, 67, 60, 67]}
    index.add_audio(baseline, [melody(n) for n in songs.values()], sampling_rate=SR, ids=list(songs))
    result = index.search_audio(baseline, melody([n - 4 for n in songs["down"]], note_s=0.3), sampling_rate=SR)
    assert result.ids[0] == "down"
    assert baseline.encode(np.zeros(SR, np.float32), sampling_rate=SR).shape == (1, 2)  # silence: one row
    with pytest.raises(ValueError, match="subsample=0"):
        create_baseline("pitch-contour-dtw", subsample=0)


def test_logmel_dtw():
    baseline = create_baseline("logmel-dtw", sampling_rate=SR, n_mels=32)
    frames = baseline.encode([melody([60, 64])], sampling_rate=SR)[0]
    assert frames.shape == (int(0.5 * SR) // 256 + 1, 32)
    np.testing.assert_allclose(frames.mean(0), 0.0, atol=1e-4)  # per-utterance mean normalisation
    index = Wav2TokIndex.from_encoder(baseline)
    assert index.frame_rate == SR / 256 and index.vocabulary.size == 32
    clips = [melody([60, 64]), melody([70, 65]), melody([55, 57])]
    index.add_audio(baseline, clips, sampling_rate=SR)
    noisy = clips[1] + 0.01 * np.random.default_rng(0).standard_normal(len(clips[1])).astype(np.float32)
    assert index.search_audio(baseline, noisy, sampling_rate=SR).ids[0] == "1"


def test_vq_logmel_ed_fit_encode_and_vocabulary():
    train = [melody(notes) for notes in ([60, 62, 64], [67, 65, 64], [72, 60, 55])]
    vq = create_baseline("vq-logmel-ed", n_clusters=6, sampling_rate=SR, n_mels=32)
    with pytest.raises(RuntimeError, match="call .fit"):
        vq.encode(train[0], sampling_rate=SR)
    vq.fit(train, sampling_rate=SR)
    tokens, durations = vq.encode(train, sampling_rate=SR, return_durations=True)
    for seq, dur, clip in zip(tokens, durations, train):
        assert all(0 <= t < 6 for t in seq) and all(a != b for a, b in zip(seq, seq[1:]))  # repeats collapsed
        assert sum(dur) == pytest.approx((len(clip) // 256 + 1) * 256 / SR)
    other = create_baseline("vq-logmel-ed", n_clusters=6, sampling_rate=SR, n_mels=32, seed=1).fit(train[:2], SR)
    assert other.vocabulary != vq.vocabulary  # a different codebook is a different vocabulary
    index = Wav2TokIndex.from_encoder(vq)
    index.add_audio(vq, train, sampling_rate=SR, labels=["a", "b", "c"])
    assert index.search_audio(vq, train[2], sampling_rate=SR).labels[0] == "c"
    assert index.substitution_costs.shape == (6, 6) and index.substitution_costs.max() <= 2.0  # from the centroids
    assert index.search_audio(vq, train[2], sampling_rate=SR, distance="normalized_weighted_levenshtein").labels[0] == "c"
    with pytest.raises(ValueError, match="vocabulary"):
        index.search_audio(other, train[0], sampling_rate=SR)


@pytest.fixture(scope="module")
def tiny_ctc_dir(tmp_path_factory):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

    torch.manual_seed(0)
    config = Wav2Vec2Config(vocab_size=12, pad_token_id=0, hidden_size=16, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=32, conv_dim=(16, 16), conv_stride=(5, 4),
                            conv_kernel=(10, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            do_stable_layer_norm=False, feat_extract_norm="group")
    model = Wav2Vec2ForCTC(config)
    with torch.no_grad():
        model.lm_head.bias.copy_(torch.linspace(-1.0, 1.0, 12))  # spread the random logits over several ids
        model.lm_head.weight.mul_(20.0)
    path = tmp_path_factory.mktemp("tiny-ctc")
    model.save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=False).save_pretrained(path)
    return str(path)


def test_hub_ctc_with_a_tiny_local_checkpoint(tiny_ctc_dir):
    from transformers import Wav2Vec2ForCTC

    baseline = create_baseline("hub-ctc", model_id=tiny_ctc_dir)
    assert baseline.vocabulary == Vocabulary(f"hub-ctc:{tiny_ctc_dir}", 12)
    assert baseline.frame_rate == 16000 / 20
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(n).astype(np.float32) for n in (8000, 12000)]
    ids, durations = baseline.encode(clips, sampling_rate=8000, return_durations=True)  # resampled to 16 kHz
    reference = Wav2Vec2ForCTC.from_pretrained(tiny_ctc_dir).eval()
    for clip, seq, dur in zip(clips, ids, durations):
        wave = baseline._waves([clip], 8000)[0][0]
        inputs = baseline.feature_extractor(wave, sampling_rate=16000, return_tensors="pt").input_values
        with torch.no_grad():
            frames = reference(inputs).logits[0].argmax(-1).tolist()
        collapsed = [f for k, f in enumerate(frames) if k == 0 or f != frames[k - 1]]
        assert seq == [f for f in collapsed if f != 0] and len(seq) > 2
        assert sum(dur) == pytest.approx(len(frames) / baseline.frame_rate)
    index = Wav2TokIndex.from_encoder(baseline)
    index.add_audio(baseline, clips, sampling_rate=8000, ids=["short", "long"])
    assert index.search_audio(baseline, clips[1], sampling_rate=8000).ids[0] == "long"


def test_unreachable_hub_checkpoint_raises_baseline_unavailable(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import time
    for name, model_id in [("wav2vec2-o", "facebook/wav2vec2-base-960h"),
                           ("wav2vec2-multi", "facebook/wav2vec2-xlsr-53-espeak-cv-ft")]:
        start = time.perf_counter()
        with pytest.raises(BaselineUnavailable, match=f"{name}: cannot load '{model_id}'"):
            create_baseline(name)
        assert time.perf_counter() - start < 10
    with pytest.raises(BaselineUnavailable):
        create_baseline("hub-ctc", model_id="someone/not-in-the-cache")


def test_wav2tok_model_as_encoder():
    from wav2tok_hf import Wav2TokConfig, Wav2TokModel

    torch.manual_seed(0)
    model = Wav2TokModel(Wav2TokConfig(codebook_size=8, sampling_rate=SR, hidden_size=32, embedding_dim=16)).eval()
    clips = [melody([60, 64, 67]), melody([70, 65, 62, 60]), melody([50, 55])]
    tokens = Wav2TokIndex.from_encoder(model)
    assert (tokens.kind, tokens.vocabulary.size) == ("tokens", 8)
    tokens.add_audio(model, clips, sampling_rate=SR, ids=["a", "b", "c"])
    result = tokens.search_audio(model, clips[1], sampling_rate=SR, distance="subsequence_levenshtein")
    assert result.ids[0] == "b" and result.scores[0] == 0 and result.end_s[0] > result.start_s[0]
    # the index carries the model's codeword substitution costs for the weighted edit distance
    np.testing.assert_array_equal(tokens.substitution_costs, model.substitution_costs())
    codebook = torch.nn.functional.normalize(model.codebook, dim=-1)
    want = torch.clamp((1 - codebook @ codebook.T) / model.config.substitution_temperature, max=2.0)
    np.testing.assert_allclose(tokens.substitution_costs, want.fill_diagonal_(0).numpy(), atol=1e-5)
    weighted = tokens.search_audio(model, clips[1], sampling_rate=SR, distance="normalized_weighted_levenshtein")
    assert weighted.ids[0] == "b" and weighted.scores[0] == 0
    # key search: a query transposed by 3 semitones, searched at -3 / 0 / +3, scores its un-shifted version
    from wav2tok_hf.data import pitch_shift

    shifted = pitch_shift(clips[1], SR, 3)
    keyed = tokens.search_audio(model, [shifted], sampling_rate=SR, pitch_shifts=(-3, 0, 3))[0]
    versions = [model.encode(pitch_shift(shifted, SR, k) if k else shifted, sampling_rate=SR) for k in (-3, 0, 3)]
    np.testing.assert_allclose(keyed.scores, tokens.search_versions(versions).scores)
    assert keyed.scores[0] <= tokens.search_audio(model, shifted, sampling_rate=SR).scores[0]
    with pytest.raises(ValueError, match="list of pitch shifts"):
        tokens.search_audio(model, shifted, sampling_rate=SR, pitch_shifts=3)
    # a model whose config sets query_pitch_shifts searches that way by default; () searches as recorded
    model.config.query_pitch_shifts = [-3, 0, 3]
    np.testing.assert_allclose(tokens.search_audio(model, shifted, sampling_rate=SR).scores, keyed.scores)
    model.config.query_pitch_shifts = None
    np.testing.assert_allclose(tokens.search_audio(model, shifted, sampling_rate=SR, pitch_shifts=()).scores,
                               tokens.search_audio(model, shifted, sampling_rate=SR).scores)
    frames = Wav2TokIndex.from_encoder(model, kind="frames")
    assert (frames.vocabulary.size, frames.frame_rate) == (16, model.config.frame_rate)
    frames.add_audio(model, clips, sampling_rate=SR)
    assert frames.search_audio(model, clips[2], sampling_rate=SR).ids[0] == "2"
    torch.manual_seed(1)
    other = Wav2TokModel(Wav2TokConfig(codebook_size=8, sampling_rate=SR, hidden_size=32, embedding_dim=16)).eval()
    with pytest.raises(ValueError, match="vocabulary"):
        tokens.search_audio(other, clips[0], sampling_rate=SR)
