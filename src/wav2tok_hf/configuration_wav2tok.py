"""Configuration of a wav2tok model: the single source of truth for features, encoder, codebook and training weights."""

from __future__ import annotations

from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

FEATURE_TYPES = ("log-mel", "mfcc", "cqt", "pitch")
ENCODER_TYPES = ("bilstm", "transformer")
SIMILARITY_TYPES = ("learned", "cosine")
PITCH_REFERENCES = ("mean", "pitch-class", "pitch-class-voiced", "pitch-class-tuned")
FREQUENCY_FEATURE_TYPES = ("cqt", "log-mel")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@strict
class Wav2TokConfig(PreTrainedConfig):
    r"""Configuration for [`Wav2TokModel`].

    Args:
        feature_type (`str`, defaults to `"log-mel"`):
            Frame features computed by [`Wav2TokFeatureExtractor`]. One of `"log-mel"`, `"mfcc"` (MFCC + Δ + ΔΔ),
            `"cqt"` (semitone-spaced log-frequency spectrogram) or `"pitch"` (a key-normalised, transposition-invariant
            front end: an autocorrelation pitch track taken relative to the clip's key reference, as a soft one-hot
            over ±`pitch_context_semitones` (or over one octave of pitch classes) plus (optionally) relative pitch, its slope,
            voicing and energy).
        sampling_rate (`int`, defaults to 16000): rate the audio is resampled to before features are computed.
        n_fft (`int`, defaults to 512): STFT window length in samples.
        hop_length (`int`, defaults to 256): STFT hop in samples (frame rate = `sampling_rate / hop_length`).
        n_mels (`int`, defaults to 64): mel bands (`log-mel`, `mfcc`).
        n_mfcc (`int`, defaults to 13): cepstral coefficients before Δ and ΔΔ (`mfcc` gives `3 * n_mfcc` dims).
        fmin (`float`, defaults to 60.0) / fmax (`float`, optional): frequency range of the filterbanks.
        bins_per_semitone (`int`, defaults to 1): resolution of the `cqt` / `pitch` log-frequency axis.
        n_semitones (`int`, defaults to 60): span of the `cqt` axis above `fmin` (`pitch`: the tracked pitch range).
        pitch_context_semitones (`int`, defaults to 18): half-width of the key-normalised pitch window (`pitch`).
        pitch_reference (`str`, defaults to `"mean"`): key reference of the `pitch` front end: `"mean"` (winsorised
            mean of the voiced pitch), `"pitch-class"` (circular mean of the pitch class over steady frames, placed in
            the octave of the mean; insensitive to octave jumps of singer or tracker), `"pitch-class-voiced"` (the
            same over every voiced frame: steadier across renderings of one performance) or `"pitch-class-tuned"`
            (the clip's tuning plus the whole semitones nearest the steady key: estimates differ by whole semitones).
        pitch_fold_octave (`bool`, defaults to `False`): `pitch` one-hot over the 12 pitch classes relative to the
            key (circular, octave-invariant) instead of over ±`pitch_context_semitones`.
        pitch_interval_lags (`list[int]`, optional): `pitch` front end without any key reference: for each lag L
            (frames), a soft one-hot over the 12 pitch classes of the interval from the pitch L frames earlier
            (circular: octave errors vanish), instead of the key-relative one-hot; exactly transposition-invariant,
            so no key estimate can slip between renderings or singers. Needs `pitch_contour_scalars=False`.
        pitch_contour_scalars (`bool`, defaults to `True`): `pitch` features include the relative pitch / 12 and its
            slope per frame (4 scalars with voicing and energy); `False` keeps voicing and energy only (2 scalars).
        normalize_features (`bool`, defaults to `True`): per-utterance mean/variance normalisation of each feature.
        normalization_window_s (`float`, optional): with `normalize_features`, normalise each frame by the mean and
            variance over a centred window of this many seconds (sliding, as sliding-window cepstral mean and
            variance normalisation in ASR) instead of over the whole clip, so a word's frames depend less on what
            else the clip holds. `None`: the whole clip.
        remove_dc (`bool`, defaults to `False`): subtract each analysis frame's mean (over its audio samples)
            before the window, so a constant (DC) offset of the input changes no feature. Off by default: the
            released models were trained without it.
        frequency_conv_channels (`int`, defaults to 0): with a positive value, the frames of a `cqt` or `log-mel`
            front end go through `frequency_conv_layers` 2-D convolutions over (frequency, time) with this many
            channels (max-pooled by 2 along frequency between layers), then are pooled (max and mean) over the whole
            frequency axis before the encoder: a shift of the spectrum along log-frequency (a transposition, or the
            formant scaling of a pitch-shifted or another speaker's voice) moves the feature maps and leaves the
            pooled frames almost unchanged. 0 feeds the frames to the encoder directly.
        frequency_conv_layers (`int`, defaults to 3) / frequency_conv_kernel (`int`, defaults to 5): depth of that
            stack and the frequency extent (bins) of each kernel; the time extent is 3 frames.
        encoder_type (`str`, defaults to `"bilstm"`): `"bilstm"` or `"transformer"`.
        hidden_size (`int`, defaults to 256): encoder output width (BiLSTM: two directions of `hidden_size // 2`).
        num_layers (`int`, defaults to 2): encoder layers.
        num_attention_heads (`int`, defaults to 4): heads of the Transformer option.
        dropout (`float`, defaults to 0.25): encoder dropout.
        embedding_dim (`int`, defaults to 64): size of the unit-norm frame embeddings compared with the codebook.
        codebook_size (`int`, defaults to 25): number of tokens K.
        temperature (`float`, defaults to 0.1): logits are `cos(z, e_k) / temperature`.
        similarity (`str`, defaults to `"learned"`): prototype similarity of the matching loss (`"learned"`,
            `"cosine"` for the paper's Cos ablation).
        alpha (`float`) / beta (`float`), default 0.01: weights of the two CTC terms of the training loss.
        chunk_length_s (`float`, defaults to 60.0): long inputs are encoded in chunks of this many seconds.
        substitution_temperature (`float`, defaults to 0.4): scale of the token substitution costs used by the
            weighted edit distance: substituting token `a` by `b` costs `min(2, (1 - cos(e_a, e_b)) /
            substitution_temperature)` (see [`Wav2TokModel.substitution_costs`]); insertions and deletions cost 1.
        substitution_cost_cap (`float`, defaults to 2.0): the most one substitution costs, in `(0, 2]`. `2` (a
            deletion plus an insertion) lets unrelated tokens cost more than in the plain edit distance; `1` keeps
            every substitution at most as dear as there, so the weighted distance never exceeds the plain one.
        max_token_run (`int`, defaults to 0): `0` collapses every run of one token into a single token; `N > 0`
            keeps durations in the token string: a run of `r` frames gives `ceil(r / N)` tokens (one token per at
            most `N` frames), so a long note weighs more than a short one in the edit distance.
        query_pitch_shifts (`list[float]`, *optional*): a key search at query time: [`Wav2TokIndex.search_audio`] and
            the benchmarks encode each query at each of these shifts (semitones) and keep each item's best distance.
            `[-0.5, 0, 0.5]` absorbs the half-semitone quantisation of a `pitch` front end at `bins_per_semitone=1`;
            `None` (default) searches the query as recorded. The database is encoded once, as recorded.
        graph_candidates (`int`, *optional*): the items a graph search over this model's tokens explores by default
            ([`Wav2TokIndex.build_graph`] of an index made by `Wav2TokIndex.from_encoder(model)`, and `wav2tok index
            build --graph`): chosen per release on validation queries, as the smallest width keeping recall@10 0.99
            (queries far from every item, such as hums, need more than spoken words). `None` (default): the library's
            default width.

    Example:

    >>> from wav2tok_hf import Wav2TokConfig
    >>> config = Wav2TokConfig(codebook_size=25, sampling_rate=8000, feature_type="log-mel")
    >>> config.frame_rate
    31.25
    """

    model_type = "wav2tok"
    # transformers' standard name for the encoder depth (read and written through to `num_layers`).
    attribute_map = {"num_hidden_layers": "num_layers"}

    feature_type: str = "log-mel"
    sampling_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 64
    n_mfcc: int = 13
    fmin: float | int = 60.0
    fmax: float | int | None = None
    bins_per_semitone: int = 1
    n_semitones: int = 60
    pitch_context_semitones: int = 18
    pitch_reference: str = "mean"
    pitch_fold_octave: bool = False
    pitch_interval_lags: list[int] | None = None
    pitch_contour_scalars: bool = True
    normalize_features: bool = True
    normalization_window_s: float | int | None = None
    remove_dc: bool = False
    frequency_conv_channels: int = 0
    frequency_conv_layers: int = 3
    frequency_conv_kernel: int = 5
    encoder_type: str = "bilstm"
    hidden_size: int = 256
    num_layers: int = 2
    num_attention_heads: int = 4
    dropout: float | int = 0.25
    embedding_dim: int = 64
    codebook_size: int = 25
    temperature: float | int = 0.1
    similarity: str = "learned"
    alpha: float | int = 0.01
    beta: float | int = 0.01
    chunk_length_s: float | int = 60.0
    substitution_temperature: float | int = 0.4
    substitution_cost_cap: float | int = 2.0
    max_token_run: int = 0
    query_pitch_shifts: list[float | int] | None = None
    graph_candidates: int | None = None

    def __post_init__(self, **kwargs):
        self.validate_wav2tok()
        feature_size = kwargs.pop("feature_size", None)
        if feature_size is not None and feature_size != self.feature_size:
            raise ValueError(
                f"feature_size={feature_size!r} disagrees with the {self.feature_size} dims that feature_type="
                f"{self.feature_type!r} and its settings give; feature_size is derived (n_mels, n_mfcc, n_semitones, "
                "bins_per_semitone, pitch_*): leave it out"
            )
        super().__post_init__(**kwargs)

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any):
        """As [`PreTrainedConfig.from_dict`], then validated: keyword overrides such as
        ``Wav2TokConfig.from_pretrained(path, encoder_type="gru")`` are set after ``__init__`` and checked here."""
        result = super().from_dict(config_dict, **kwargs)
        (result[0] if isinstance(result, tuple) else result).validate_wav2tok()
        return result

    def validate_wav2tok(self) -> None:
        """Raise `ValueError` naming the first invalid field and what is accepted.

        Runs on ``__init__``, on ``from_pretrained`` / ``from_dict`` keyword overrides, and (as a ``@strict`` class
        validator, through ``validate()``) on ``save_pretrained`` and when a model is built, so attributes changed
        after construction are checked too.
        """
        _check(self.feature_type in FEATURE_TYPES, f"feature_type={self.feature_type!r}; accepted: {FEATURE_TYPES}")
        _check(self.encoder_type in ENCODER_TYPES, f"encoder_type={self.encoder_type!r}; accepted: {ENCODER_TYPES}")
        _check(self.pitch_reference in PITCH_REFERENCES,
               f"pitch_reference={self.pitch_reference!r}; accepted: {PITCH_REFERENCES}")
        _check(self.similarity in SIMILARITY_TYPES, f"similarity={self.similarity!r}; accepted: {SIMILARITY_TYPES}")
        for name in ("sampling_rate", "n_fft", "hop_length", "n_mels", "n_mfcc", "bins_per_semitone", "n_semitones",
                     "pitch_context_semitones", "frequency_conv_layers", "frequency_conv_kernel", "hidden_size",
                     "num_layers", "num_attention_heads", "embedding_dim"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                   f"{name}={value!r}; expected a positive integer")
        for name in ("fmin", "dropout", "temperature", "alpha", "beta", "chunk_length_s", "substitution_temperature",
                     "substitution_cost_cap") + (("fmax",) if self.fmax is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name}={value!r}; expected a number")
        _check(isinstance(self.codebook_size, int) and self.codebook_size >= 2,
               f"codebook_size={self.codebook_size!r}; expected an integer >= 2")
        _check(self.hop_length <= self.n_fft, f"hop_length={self.hop_length} must not exceed n_fft={self.n_fft}")
        nyquist = self.sampling_rate / 2
        _check(0 <= self.fmin < nyquist, f"fmin={self.fmin!r}; expected 0 <= fmin < sampling_rate / 2 = {nyquist}")
        _check(self.fmax is None or self.fmin < self.fmax <= nyquist,
               f"fmax={self.fmax!r}; expected None or fmin < fmax <= sampling_rate / 2 = {nyquist}")
        _check(0.0 <= self.dropout < 1.0, f"dropout={self.dropout!r}; expected 0 <= dropout < 1")
        _check(self.temperature > 0, f"temperature={self.temperature!r}; expected > 0")
        _check(self.substitution_temperature > 0,
               f"substitution_temperature={self.substitution_temperature!r}; expected > 0")
        _check(0 < self.substitution_cost_cap <= 2,
               f"substitution_cost_cap={self.substitution_cost_cap!r}; expected 0 < cap <= 2 (2 = a deletion plus an "
               "insertion)")
        _check(self.alpha >= 0 and self.beta >= 0, f"alpha={self.alpha!r}, beta={self.beta!r}; expected >= 0")
        _check(self.chunk_length_s > 0, f"chunk_length_s={self.chunk_length_s!r}; expected > 0")
        _check(isinstance(self.max_token_run, int) and not isinstance(self.max_token_run, bool)
               and self.max_token_run >= 0,
               f"max_token_run={self.max_token_run!r}; expected an integer >= 0 (0: collapse runs fully)")
        shifts = self.query_pitch_shifts
        _check(shifts is None or (isinstance(shifts, (list, tuple)) and len(shifts) > 0 and all(
            isinstance(k, (int, float)) and not isinstance(k, bool) and abs(k) <= 12 for k in shifts)),
               f"query_pitch_shifts={shifts!r}; expected None or a non-empty list of pitch shifts in semitones, "
               "each within [-12, 12] (e.g. [-0.5, 0, 0.5])")
        width = self.graph_candidates
        _check(width is None or (isinstance(width, int) and not isinstance(width, bool) and width > 0),
               f"graph_candidates={width!r}; expected None (the library's default) or a positive number of items")
        window = self.normalization_window_s
        _check(window is None or (isinstance(window, (int, float)) and not isinstance(window, bool) and window > 0),
               f"normalization_window_s={window!r}; expected None (the whole clip) or a positive number of seconds")
        lags = self.pitch_interval_lags
        if lags is not None:
            _check(isinstance(lags, (list, tuple)) and len(lags) > 0 and all(
                isinstance(lag, int) and not isinstance(lag, bool) and lag > 0 for lag in lags),
                f"pitch_interval_lags={lags!r}; expected None or a non-empty list of positive frame lags (e.g. [4, 8])")
            _check(self.feature_type == "pitch",
                   f"pitch_interval_lags needs feature_type='pitch'; got feature_type={self.feature_type!r}")
            _check(not self.pitch_contour_scalars,
                   "pitch_interval_lags needs pitch_contour_scalars=False (the contour scalars are key-relative)")
        if self.encoder_type == "bilstm":
            _check(self.hidden_size % 2 == 0, f"hidden_size={self.hidden_size} must be even for a BiLSTM")
        else:
            _check(self.hidden_size % self.num_attention_heads == 0,
                   f"hidden_size={self.hidden_size} must be divisible by num_attention_heads={self.num_attention_heads}")
        if self.feature_type == "mfcc":
            _check(self.n_mfcc <= self.n_mels, f"n_mfcc={self.n_mfcc} must not exceed n_mels={self.n_mels}")
        channels = self.frequency_conv_channels
        _check(isinstance(channels, int) and not isinstance(channels, bool) and channels >= 0,
               f"frequency_conv_channels={channels!r}; expected an integer >= 0 (0: no frequency convolutions)")
        if channels:
            _check(self.feature_type in FREQUENCY_FEATURE_TYPES,
                   f"frequency_conv_channels needs a frequency axis: feature_type={self.feature_type!r}; accepted: "
                   f"{FREQUENCY_FEATURE_TYPES}")
            bins = self.feature_size // 2 ** (self.frequency_conv_layers - 1)
            _check(bins >= 1, f"{self.feature_size} frequency bins are too few for frequency_conv_layers="
                              f"{self.frequency_conv_layers} (each layer but the last halves them)")

    @property
    def frame_rate(self) -> float:
        """Feature frames per second."""
        return self.sampling_rate / self.hop_length

    @property
    def encoder_input_size(self) -> int:
        """Width of the frames the encoder reads: `feature_size`, or `2 * frequency_conv_channels` (max and mean over
        frequency) with the frequency convolutions."""
        return 2 * self.frequency_conv_channels if self.frequency_conv_channels else self.feature_size

    @property
    def feature_size(self) -> int:
        """Width of one feature frame for the configured `feature_type`."""
        if self.feature_type == "log-mel":
            return self.n_mels
        if self.feature_type == "mfcc":
            return 3 * self.n_mfcc
        if self.feature_type == "cqt":
            return self.n_semitones * self.bins_per_semitone
        scalars = 4 if self.pitch_contour_scalars else 2
        if self.pitch_interval_lags:
            return len(self.pitch_interval_lags) * 12 * self.bins_per_semitone + scalars
        if self.pitch_fold_octave:
            return 12 * self.bins_per_semitone + scalars
        return (2 * self.pitch_context_semitones + 1) * self.bins_per_semitone + scalars
