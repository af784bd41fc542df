"""Feature extractor for wav2tok: batched, vectorised frame features in torch with exact padding semantics.

Each waveform is zero-padded by ``n_fft // 2`` on both sides *on its own* before batching, so a frame never sees
another item's samples or the batch padding: a clip gives the same features alone or in any padded batch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature, SequenceFeatureExtractor

from .audio_utils import ACCEPTED_AUDIO, load_audio
from .configuration_wav2tok import FEATURE_TYPES, Wav2TokConfig
from .pitch import autocorrelation_pitch, key_reference

FEATURE_FIELDS = (
    "feature_type", "sampling_rate", "n_fft", "hop_length", "n_mels", "n_mfcc", "fmin", "fmax",
    "bins_per_semitone", "n_semitones", "pitch_context_semitones", "pitch_reference",
    "pitch_fold_octave", "pitch_interval_lags", "pitch_contour_scalars", "normalize_features", "normalization_window_s",
    "remove_dc",
)
_EPS = 1e-6
MAX_CHANNELS = 16  # the most channels audio_utils.to_mono_float32 accepts


@lru_cache(maxsize=16)
def _mel_matrix(sampling_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)).float()


@lru_cache(maxsize=16)
def _dct_matrix(n_mels: int, n_mfcc: int) -> torch.Tensor:
    from scipy.fft import dct

    return torch.from_numpy(dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]).float()


@lru_cache(maxsize=16)
def _log_frequency_matrix(sampling_rate: int, n_fft: int, fmin: float, n_bins: int, bins_per_semitone: int) -> torch.Tensor:
    """Triangular filters centred on semitone-spaced frequencies (a CQT approximation from the STFT).

    Each filter's half-width is the larger of its log-frequency bin width and the FFT bin spacing, so every filter
    has support; rows sum to one. Bins above Nyquist are left empty.
    """
    fft_freqs = np.linspace(0, sampling_rate / 2, n_fft // 2 + 1)
    centres = fmin * 2.0 ** (np.arange(n_bins) / (12 * bins_per_semitone))
    width = np.maximum(centres * (2.0 ** (1 / (12 * bins_per_semitone)) - 1), fft_freqs[1])
    weights = np.maximum(0.0, 1.0 - np.abs(fft_freqs[None, :] - centres[:, None]) / width[:, None])
    weights[centres >= sampling_rate / 2] = 0.0
    sums = weights.sum(axis=1, keepdims=True)
    return torch.from_numpy(np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0)).float()


def _fill_invalid_with_last(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Replace frames past each item's length by its last valid frame (x: B, T, F)."""
    t = torch.arange(x.shape[1], device=x.device)
    index = torch.minimum(t[None, :], (lengths - 1).clamp(min=0)[:, None])
    return torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[2]))


def _deltas(x: torch.Tensor, lengths: torch.Tensor, width: int = 9) -> torch.Tensor:
    """librosa-style regression deltas along time with edge replication, exact under padding (x: B, T, F)."""
    half = width // 2
    x = _fill_invalid_with_last(x, lengths)
    padded = torch.cat([x[:, :1].expand(-1, half, -1), x, x[:, -1:].expand(-1, half, -1)], dim=1)
    taps = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    windows = padded.unfold(1, width, 1)  # B, T, F, width
    return (windows * taps).sum(-1) / (taps**2).sum()


def _masked_standardize(x: torch.Tensor, mask: torch.Tensor, window: int = 0) -> torch.Tensor:
    """Mean/variance normalisation of each feature over the valid frames of each item (x: B, T, F), or with
    ``window`` > 0 over the valid frames of a centred window of that many frames (sliding: cumulative sums in float64).

    >>> x = torch.cat([torch.zeros(1, 50, 1), torch.full((1, 50, 1), 10.0)], 1); mask = torch.ones(1, 100, dtype=bool)
    >>> whole, sliding = _masked_standardize(x, mask), _masked_standardize(x, mask, 11)
    >>> round(whole[0, 0, 0].item(), 3), round(sliding[0, 0, 0].item(), 3), round(sliding[0, 49, 0].item(), 3)
    (-1.0, 0.0, -0.913)
    """
    m = mask[..., None].to(x.dtype)
    if window <= 0:
        count = m.sum(1, keepdim=True).clamp(min=1)
        mean = (x * m).sum(1, keepdim=True) / count
        var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / count
        return (x - mean) / torch.sqrt(var + 1e-5) * m
    steps = torch.arange(x.shape[1])
    upper, lower = (steps + window // 2 + 1).clamp(max=x.shape[1]), (steps - window // 2).clamp(min=0)

    def moving_sum(y: torch.Tensor) -> torch.Tensor:
        total = torch.nn.functional.pad(torch.cumsum(y.double(), dim=1), (0, 0, 1, 0))
        return total[:, upper] - total[:, lower]

    count = moving_sum(m).clamp(min=1)
    mean = moving_sum(x * m) / count
    var = (moving_sum((x * m) ** 2) / count - mean ** 2).clamp(min=0)
    return ((x - mean) / torch.sqrt(var + 1e-5) * m).to(x.dtype)


class Wav2TokFeatureExtractor(SequenceFeatureExtractor):
    r"""Turns raw audio into wav2tok frame features (``input_features``: batch x frames x feature_size) and a frame
    ``attention_mask``.

    Inputs may be numpy arrays, torch tensors, lists of floats, file paths, bytes, or the audio values 🤗 Datasets 5
    yields (``AudioDecoder`` objects, ``{"array", "sampling_rate"}`` / ``{"path", "bytes"}`` dicts), one or a list.
    As in transformers, a 2-D array or tensor is a batch ``(batch, samples)``; multi-channel audio is one input given
    as a file, a dict whose ``"array"`` is ``(channels, samples)`` or ``(samples, channels)``, or a 2-D element of a
    list (its channels are averaged). Audio is converted to mono float32 and resampled to ``sampling_rate``. All
    settings mirror [`Wav2TokConfig`]; build a matching extractor with [`~Wav2TokFeatureExtractor.from_model_config`].

    Example:

    >>> import numpy as np
    >>> from wav2tok_hf import Wav2TokConfig, Wav2TokFeatureExtractor
    >>> fe = Wav2TokFeatureExtractor.from_model_config(Wav2TokConfig(sampling_rate=8000, n_fft=256, hop_length=128))
    >>> batch = fe([np.zeros(8000), np.ones(4000)], sampling_rate=8000, return_tensors="pt")
    >>> tuple(batch["input_features"].shape), batch["attention_mask"].sum(1).tolist()
    ((2, 63, 64), [63, 32])
    >>> fe(np.zeros((3, 8000), np.float32), sampling_rate=8000, return_tensors="np")["input_features"].shape
    (3, 63, 64)
    """

    model_input_names = ["input_features", "attention_mask"]

    def __init__(
        self,
        feature_type: str = "log-mel",
        sampling_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_mels: int = 64,
        n_mfcc: int = 13,
        fmin: float = 60.0,
        fmax: float | None = None,
        bins_per_semitone: int = 1,
        n_semitones: int = 60,
        pitch_context_semitones: int = 18,
        pitch_reference: str = "mean",
        pitch_fold_octave: bool = False,
        pitch_interval_lags: list[int] | None = None,
        pitch_contour_scalars: bool = True,
        normalize_features: bool = True,
        normalization_window_s: float | None = None,
        remove_dc: bool = False,
        padding_value: float = 0.0,
        **kwargs,
    ):
        settings = dict(
            feature_type=feature_type, sampling_rate=sampling_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
            n_mfcc=n_mfcc, fmin=fmin, fmax=fmax, bins_per_semitone=bins_per_semitone, n_semitones=n_semitones,
            pitch_context_semitones=pitch_context_semitones, pitch_reference=pitch_reference,
            pitch_fold_octave=pitch_fold_octave, pitch_interval_lags=pitch_interval_lags,
            pitch_contour_scalars=pitch_contour_scalars,
            normalize_features=normalize_features, normalization_window_s=normalization_window_s, remove_dc=remove_dc,
        )
        # Validation is shared with the model config so the two can never disagree about what is allowed; a saved
        # `feature_size` (derived, written by to_dict) must agree with the settings.
        feature_size = Wav2TokConfig(**settings, feature_size=kwargs.pop("feature_size", None)).feature_size
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        for name, value in settings.items():
            setattr(self, name, value)

    @classmethod
    def from_model_config(cls, config: Wav2TokConfig, **kwargs) -> Wav2TokFeatureExtractor:
        """The feature extractor matching a model config (the config is the single source of truth)."""
        return cls(**{name: getattr(config, name) for name in FEATURE_FIELDS}, **kwargs)

    def settings_match(self, config: Wav2TokConfig) -> bool:
        """Whether this extractor computes the features `config`'s model was built for."""
        return all(getattr(self, name) == getattr(config, name) for name in FEATURE_FIELDS)

    @property
    def frame_rate(self) -> float:
        return self.sampling_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a clip of `num_samples` samples (at the extractor's rate)."""
        return 1 + num_samples // self.hop_length

    # ------------------------------------------------------------------ input handling
    def load(self, audio: Any, sampling_rate: int | None = None) -> list[np.ndarray]:
        """Decode one input or a batch (a list, or a 2-D ``(batch, samples)`` array / tensor) to a list of mono
        float32 arrays at the extractor's rate."""
        items = _batch_items(audio)
        if len(items) == 0:
            raise ValueError(f"Received an empty batch; accepted: one input or a non-empty list of {ACCEPTED_AUDIO}")
        return [
            load_audio(item, sampling_rate=sampling_rate, target_sampling_rate=self.sampling_rate, name=f"audio[{i}]")[0]
            for i, item in enumerate(items)
        ]

    def __call__(
        self,
        raw_speech: Any,
        sampling_rate: int | None = None,
        padding: bool | str = "longest",
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        **kwargs,
    ) -> BatchFeature:
        """Featurise one input or a batch. `sampling_rate` is required for raw arrays/tensors/lists.

        `padding` (`"longest"` / `True`, `"max_length"`, `False`), `max_length`, `truncation` and
        `pad_to_multiple_of` act as in transformers' [`SequenceFeatureExtractor.pad`], counted in frames of
        `input_features` (as Speech2Text's extractor counts them): every clip is featurised on its own first, so
        padding never changes a frame. Returns lists of arrays unless `return_tensors` is `"np"` or `"pt"`.
        """
        if kwargs:
            raise TypeError(f"Unexpected arguments {sorted(kwargs)}; accepted: sampling_rate, padding, max_length, "
                            "truncation, pad_to_multiple_of, return_attention_mask, return_tensors")
        if return_tensors not in (None, "np", "pt"):
            raise ValueError(f"return_tensors={return_tensors!r}; accepted: 'pt', 'np' or None")
        if (padding == "max_length" or truncation) and max_length is None:
            raise ValueError(f"padding={padding!r}, truncation={truncation!r} need max_length (in frames)")
        waves = self.load(raw_speech, sampling_rate=sampling_rate)
        features, mask = self.featurize(waves)
        rows = [row[:n].numpy() for row, n in zip(features, mask.sum(1).tolist())]
        return self.pad(
            BatchFeature({"input_features": rows}), padding=padding, max_length=max_length, truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of, return_tensors=return_tensors,
            return_attention_mask=self.return_attention_mask if return_attention_mask is None else return_attention_mask,
        )

    # ------------------------------------------------------------------ the features
    def featurize(self, waves: list[np.ndarray], key_offsets: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mono float32 arrays at ``self.sampling_rate`` -> (features B x T x F, bool frame mask B x T).

        ``key_offsets`` (``pitch`` front end only; training augmentation): semitones added to each wave's key reference.
        """
        if key_offsets is not None and (self.feature_type != "pitch" or len(key_offsets) != len(waves)):
            raise ValueError(f"key_offsets needs the pitch front end and one offset per wave; got feature_type="
                             f"{self.feature_type!r} and {len(key_offsets)} offsets for {len(waves)} waves")
        if key_offsets is not None and self.pitch_interval_lags:
            raise ValueError(f"key_offsets move the key reference, which pitch_interval_lags={self.pitch_interval_lags} "
                             "does not have (interval features cannot move with the key): train without key jitter")
        half = self.n_fft // 2
        lengths = torch.tensor([self.num_frames(len(w)) for w in waves])
        max_len = max(len(w) for w in waves) + 2 * half
        batch = torch.zeros(len(waves), max_len)
        for i, w in enumerate(waves):
            batch[i, half : half + len(w)] = torch.from_numpy(w)
        window = torch.hann_window(self.n_fft)
        if self.remove_dc:
            magnitude = self._dc_free_magnitude(batch, waves, window)
        else:
            spec = torch.stft(batch, self.n_fft, self.hop_length, window=window, center=False, return_complex=True)
            magnitude = spec.abs().transpose(1, 2)  # B, T, freq
        mask = torch.arange(magnitude.shape[1])[None, :] < lengths[:, None]
        if self.feature_type == "pitch":
            features = self._pitch_features(magnitude, mask, lengths, key_offsets)
        else:
            features = self._spectral_features(magnitude, lengths)
            if self.normalize_features:
                window = self.normalization_window_s
                frames = 0 if window is None else max(1, round(window * self.frame_rate))
                features = _masked_standardize(features, mask, frames)
        return features * mask[..., None], mask

    def _dc_free_magnitude(self, batch: torch.Tensor, waves: list[np.ndarray], window: torch.Tensor) -> torch.Tensor:
        """|STFT| (B, T, freq) of frames whose mean over their audio samples (not the zero padding) is removed
        before the window: exactly invariant to a constant offset, and frame-local, so chunked input agrees."""
        half = self.n_fft // 2
        valid = torch.zeros_like(batch)
        for i, w in enumerate(waves):
            valid[i, half : half + len(w)] = 1.0
        frames = batch.unfold(1, self.n_fft, self.hop_length)  # B, T, n_fft
        inside = valid.unfold(1, self.n_fft, self.hop_length)
        mean = (frames * inside).sum(-1, keepdim=True) / inside.sum(-1, keepdim=True).clamp(min=1.0)
        return torch.fft.rfft((frames - mean) * inside * window, dim=-1).abs()

    def _spectral_features(self, magnitude: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.feature_type == "cqt":
            matrix = _log_frequency_matrix(self.sampling_rate, self.n_fft, float(self.fmin),
                                           self.n_semitones * self.bins_per_semitone, self.bins_per_semitone)
            return torch.log(magnitude @ matrix.T + _EPS)
        mel = _mel_matrix(self.sampling_rate, self.n_fft, self.n_mels, float(self.fmin), self.fmax)
        log_mel = torch.log(magnitude.pow(2) @ mel.T + _EPS)
        if self.feature_type == "log-mel":
            return log_mel
        mfcc = log_mel @ _dct_matrix(self.n_mels, self.n_mfcc).T
        delta = _deltas(mfcc, lengths)
        return torch.cat([mfcc, delta, _deltas(delta, lengths)], dim=-1)

    def _pitch_features(self, magnitude: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor,
                        key_offsets: Any = None) -> torch.Tensor:
        """Transposition-invariant front end from a vectorised autocorrelation pitch tracker
        (:func:`~wav2tok_hf.pitch.autocorrelation_pitch`; key: :func:`~wav2tok_hf.pitch.key_reference`).

        Per frame: the window-corrected autocorrelation (Boersma 1993) of the windowed signal, computed from the
        STFT power, gives the pitch period (peak lag in the range ``fmin .. fmin * 2**(n_semitones / 12)`` Hz, a
        small octave cost, parabolic refinement) and its strength (voicing). Pitch in semitones is taken relative to
        a key reference that moves with the clip's key (``pitch_reference``: the winsorised mean voiced pitch, or the
        circular mean of the pitch class placed in the octave of that mean), so transposing the whole clip leaves
        the features unchanged: a soft one-hot of that relative pitch over ``±pitch_context_semitones`` (or, with
        ``pitch_fold_octave``, over the 12 pitch classes; ``bins_per_semitone`` per semitone), then (with
        ``pitch_contour_scalars``) relative pitch / 12 and its slope, then voicing strength and normalised energy.
        With ``pitch_interval_lags`` there is no key reference: the one-hot is over the pitch class of the interval
        from the pitch ``L`` frames earlier, one block per lag (zero where either frame is unvoiced).
        """
        bps = self.bins_per_semitone
        semitones, strength, energy, voiced = autocorrelation_pitch(
            magnitude.pow(2), mask, self.n_fft, self.sampling_rate, self.fmin, self.n_semitones)
        if self.pitch_interval_lags:
            one_hot = _interval_one_hot(semitones, voiced, self.pitch_interval_lags, bps)
        else:
            reference = key_reference(semitones, voiced, self.pitch_reference)
            if key_offsets is not None:
                reference = reference + torch.as_tensor(np.asarray(key_offsets, np.float32))
            relative = (semitones - reference[:, None]) * voiced
            if self.pitch_fold_octave:
                one_hot = _pitch_class_one_hot(relative, bps) * voiced[..., None]
            else:
                centres = torch.arange(-self.pitch_context_semitones * bps,
                                       self.pitch_context_semitones * bps + 1) / bps
                one_hot = _soft_one_hot(relative[..., None] - centres) * voiced[..., None]
        e_norm = _masked_standardize(energy[..., None], mask)[..., 0]
        scalars = [strength * mask, e_norm]
        if self.pitch_contour_scalars:
            slope = _deltas(relative[..., None] / 12, lengths, width=5)[..., 0] * voiced
            scalars = [relative / 12, slope] + scalars
        scalars = torch.stack(scalars, dim=-1)
        return torch.cat([one_hot, scalars], dim=-1)


def _soft_one_hot(distance: torch.Tensor) -> torch.Tensor:
    """Gaussian bump (sd 0.5 semitone) of each bin centre's distance in semitones."""
    return torch.exp(-0.5 * (distance * 2) ** 2)


def _pitch_class_one_hot(semitones: torch.Tensor, bps: int) -> torch.Tensor:
    """Soft one-hot (..., 12 * bps) over the pitch classes: circular distance of each value to each bin centre."""
    centres = torch.arange(12 * bps) / bps
    return _soft_one_hot(torch.remainder(semitones[..., None] - centres + 6, 12) - 6)


def _interval_one_hot(semitones: torch.Tensor, voiced: torch.Tensor, lags: Any, bps: int) -> torch.Tensor:
    """Per lag L, the soft pitch-class one-hot of ``semitones[t] - semitones[t - L]`` (B, T, 12 * bps each,
    concatenated), zero where frame t or t - L is unvoiced or t < L.

    >>> s = torch.tensor([[60.0, 62.0, 64.0, 76.0]]); v = torch.ones(1, 4)
    >>> x = _interval_one_hot(s, v, [1], 1)
    >>> x.shape, x[0, 1].argmax().item(), x[0, 3].argmax().item(), x[0, 0].abs().sum().item()
    (torch.Size([1, 4, 12]), 2, 0, 0.0)
    """
    blocks = []
    for lag in lags:
        interval = torch.zeros_like(semitones)
        both = torch.zeros_like(voiced)
        interval[:, lag:] = semitones[:, lag:] - semitones[:, :-lag]
        both[:, lag:] = voiced[:, lag:] * voiced[:, :-lag]
        blocks.append(_pitch_class_one_hot(interval, bps) * both[..., None])
    return torch.cat(blocks, dim=-1)


def _is_batch(audio: Any) -> bool:
    """A list/tuple of inputs (as opposed to one input given as a list of floats), or a 2-D array / tensor
    (``(batch, samples)``: transformers' convention; 3-D and more are refused as audio by `load_audio`)."""
    if isinstance(audio, (list, tuple)):
        return len(audio) == 0 or not isinstance(audio[0], (int, float, np.number))
    return getattr(audio, "ndim", None) == 2


def _batch_items(audio: Any) -> list:
    """The inputs of a batch (`_is_batch`), or ``[audio]``."""
    if not _is_batch(audio):
        return [audio]
    if not isinstance(audio, (list, tuple)) and audio.shape[-1] <= MAX_CHANNELS:
        raise ValueError(
            f"a 2-D array is a batch (batch, samples), but this one has shape {tuple(audio.shape)}: "
            f"{audio.shape[-1]} samples per item looks like (samples, channels). Pass multi-channel audio as one "
            "input: {'array': audio, 'sampling_rate': sr} (or a file, or a list of clips)"
        )
    return list(audio)


__all__ = ["Wav2TokFeatureExtractor", "FEATURE_TYPES"]
