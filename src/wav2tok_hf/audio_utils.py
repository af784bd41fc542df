"""Audio decoding and normalisation behind one function, with clear errors.

Every entry point of the library (feature extractor, pipeline, data recipes, benchmarks) turns user audio into a
mono float32 numpy array at a known rate through :func:`load_audio`.
"""

from __future__ import annotations

import io
import math
import os
from fractions import Fraction
from typing import Any

import numpy as np

ACCEPTED_AUDIO = (
    "a 1-D (mono) or 2-D (channels x samples or samples x channels) numpy array / torch tensor / list of floats, "
    "a path to an audio file, a 🤗 Datasets audio value (a decoded AudioDecoder or a dict with 'array' and "
    "'sampling_rate', or 'path' / 'bytes')"
)


# Float samples beyond this are not audio in [-1, 1] (nor int16/int32 PCM stored as floats); far beyond it the
# power spectrum overflows float32 and every frame gets the same token.
MAX_ABS_SAMPLE = 1e6
# Rates outside this range are mistakes (sampling_rate=True is 1 Hz), not audio: refuse them before resampling.
MIN_SAMPLING_RATE, MAX_SAMPLING_RATE = 1000, 1_000_000


def _decode_file(source: str | bytes) -> tuple[np.ndarray, int]:
    """Decode a path or in-memory bytes with soundfile, falling back to torchcodec (needs FFmpeg) for other codecs."""
    import soundfile as sf

    name = source if isinstance(source, str) else "<bytes>"
    if isinstance(source, str) and os.path.isdir(source):
        raise ValueError(f"Audio path {source!r} is a directory; accepted: the path of an audio file")
    if isinstance(source, str) and not os.path.isfile(source):
        raise FileNotFoundError(f"Audio file not found: {source!r}")
    try:
        data, sr = sf.read(source if isinstance(source, str) else io.BytesIO(source), dtype="float32", always_2d=True)
        return data.T, int(sr)
    except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
        try:
            from torchcodec.decoders import AudioDecoder
        except (ImportError, OSError, RuntimeError) as codec_error:
            raise ValueError(
                f"Could not decode {name}: soundfile failed ({sf_error}) and the torchcodec backend for other formats "
                f"is unavailable ({type(codec_error).__name__}). Install FFmpeg (e.g. `apt-get install ffmpeg`) and "
                "`torchcodec`, or pass WAV/FLAC/OGG audio."
            ) from None
        try:
            samples = AudioDecoder(source).get_all_samples()
        except Exception as codec_error:  # torchcodec raises plain RuntimeError/ValueError subclasses
            raise ValueError(f"Could not decode {name}: not a readable audio file ({codec_error}).") from None
        return samples.data.numpy().astype(np.float32), int(samples.sample_rate)


def _from_audio_decoder(decoder: Any) -> tuple[np.ndarray, int]:
    samples = decoder.get_all_samples()
    return samples.data.numpy().astype(np.float32), int(samples.sample_rate)


def _as_array(audio: Any, name: str = "audio") -> np.ndarray:
    if hasattr(audio, "detach") and hasattr(audio, "cpu"):  # torch tensor, without importing torch here
        audio = audio.detach().cpu().numpy()
    if isinstance(audio, (list, tuple)):
        if len(audio) and not np.isscalar(audio[0]) and not isinstance(audio[0], (list, tuple, np.ndarray)):
            raise TypeError(f"Unsupported {name} list element {type(audio[0]).__name__}; accepted: {ACCEPTED_AUDIO}")
        audio = np.asarray(audio)  # Python ints become int64, refused below: their PCM width is unknown
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"Unsupported {name} input of type {type(audio).__name__}; accepted: {ACCEPTED_AUDIO}")
    return audio


def to_mono_float32(audio: Any, name: str = "audio") -> np.ndarray:
    """Convert an array-like to a finite mono float32 vector.

    Integer PCM is scaled to [-1, 1]; 2-D input is averaged over its (shorter) channel axis.

    Example:
        >>> import numpy as np
        >>> to_mono_float32(np.zeros((2, 8000), dtype=np.int16)).shape
        (8000,)
    """
    array = _as_array(audio, name)
    if array.dtype.kind in "iu" and array.dtype.itemsize > 4:
        raise TypeError(
            f"{name} has dtype {array.dtype} (e.g. a list of Python ints), whose PCM sample width is unknown; accepted: "
            "float samples in [-1, 1], or integer PCM as int8/int16/int32/uint8 (e.g. np.asarray(x, dtype=np.int16))"
        )
    if array.dtype.kind in "iu":  # PCM: signed is centred on 0, unsigned (8-bit WAV) on 2**(bits - 1)
        half = float(2 ** (8 * array.dtype.itemsize - 1))
        array = ((array.astype(np.float64) - (half if array.dtype.kind == "u" else 0.0)) / half).astype(np.float32)
    elif array.dtype.kind == "b" or array.dtype.kind not in "f":
        raise TypeError(f"{name} has dtype {array.dtype}; accepted: float or integer PCM samples")
    if array.ndim == 2:
        channel_axis = 0 if array.shape[0] <= array.shape[1] else 1
        if array.shape[channel_axis] > 16:
            raise ValueError(
                f"{name} has shape {array.shape}: a 2-D input must be (channels, samples) or (samples, channels) "
                "with at most 16 channels"
            )
        array = array.mean(axis=channel_axis)
    elif array.ndim != 1:
        raise ValueError(f"{name} has {array.ndim} dimensions (shape {array.shape}); accepted: 1-D mono or 2-D multi-channel")
    if array.size == 0:
        raise ValueError(f"{name} is empty (0 samples); pass at least one frame of audio")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise ValueError(f"{name} contains {bad} NaN/inf samples; clean or drop them before tokenising")
    peak = float(np.abs(array).max())
    if peak > MAX_ABS_SAMPLE:
        raise ValueError(f"{name} has a peak amplitude of {peak:.3g}; accepted: float samples in [-1, 1] (at most "
                         f"±{MAX_ABS_SAMPLE:.0e}) or integer PCM with its dtype; rescale the audio")
    return np.ascontiguousarray(array, dtype=np.float32)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited polyphase resampling (scipy) of a mono float32 vector."""
    if orig_sr == target_sr:
        return audio
    from scipy.signal import resample_poly

    ratio = Fraction(int(target_sr), int(orig_sr)).limit_denominator(1000)
    out = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    expected = int(math.ceil(len(audio) * target_sr / orig_sr))
    return out[:expected] if len(out) >= expected else np.pad(out, (0, expected - len(out)))


def check_sampling_rate(rate: Any, name: str = "audio") -> int:
    """``rate`` as an int number of Hz, or a ``ValueError`` naming what is accepted (bools are refused).

    Example:
        >>> check_sampling_rate(16000.0)
        16000
    """
    integral = isinstance(rate, (int, np.integer)) or (isinstance(rate, (float, np.floating)) and float(rate).is_integer())
    if isinstance(rate, (bool, np.bool_)) or not integral or not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise ValueError(f"sampling_rate={rate!r} for {name}; expected a positive integer number of Hz from "
                         f"{MIN_SAMPLING_RATE} to {MAX_SAMPLING_RATE}")
    return int(rate)


def load_audio(
    audio: Any,
    sampling_rate: int | None = None,
    target_sampling_rate: int | None = None,
    name: str = "audio",
) -> tuple[np.ndarray, int]:
    """Decode any accepted audio input to ``(mono float32 array, rate)``, optionally resampled.

    Args:
        audio: a path, bytes, numpy array, torch tensor, list, a 🤗 Datasets ``AudioDecoder`` or an audio dict.
        sampling_rate: the rate of a raw array input. Required for arrays/tensors/lists (files and Datasets
            values carry their own rate).
        target_sampling_rate: resample to this rate when given.

    Example:
        >>> import numpy as np
        >>> wav, sr = load_audio(np.ones(16000, dtype=np.float32), sampling_rate=16000, target_sampling_rate=8000)
        >>> wav.shape, sr
        ((8000,), 8000)
    """
    rate = sampling_rate
    if isinstance(audio, (str, os.PathLike)):
        array, rate = _decode_file(os.fspath(audio))
    elif isinstance(audio, (bytes, bytearray)):
        array, rate = _decode_file(bytes(audio))
    elif isinstance(audio, dict):
        if audio.get("array") is not None:
            array = audio["array"]
            rate = audio.get("sampling_rate", sampling_rate)
        elif audio.get("bytes") is not None:
            array, rate = _decode_file(audio["bytes"])
        elif audio.get("path") is not None:
            array, rate = _decode_file(audio["path"])
        else:
            raise ValueError(f"{name} dict has none of 'array', 'bytes', 'path' (keys: {sorted(audio)}); accepted: {ACCEPTED_AUDIO}")
    elif hasattr(audio, "get_all_samples"):
        array, rate = _from_audio_decoder(audio)
    else:
        array = audio
        if sampling_rate is None:
            raise ValueError(
                f"{name} is a raw array but no sampling_rate was given; pass sampling_rate=<Hz> so it can be "
                "resampled to the model's rate"
            )
    if rate is None:
        raise ValueError(f"{name} has no sampling rate; pass sampling_rate=<Hz>")
    rate = check_sampling_rate(rate, name)
    mono = to_mono_float32(array, name=name)
    if target_sampling_rate is not None and rate != target_sampling_rate:
        mono = resample(mono, rate, int(target_sampling_rate))
        rate = int(target_sampling_rate)
    return mono, rate


def trim_silence(wave: np.ndarray, sampling_rate: int, top_db: float = 40.0, *, frame_length: int | None = None,
                 min_kept_s: float = 0.0) -> np.ndarray:
    """Cut the leading and trailing stretches quieter than ``top_db`` below the clip's loudest frame (librosa's
    ``effects.trim``; frames of ``frame_length`` samples, 64 ms by default, hop a quarter frame). ``wave`` comes back
    unchanged when nothing, or less than ``min_kept_s`` seconds, would be left. One function for the app's queries,
    the training pairs' ``trim_probability`` and the validation's ``trim8k`` condition.

    Example:
        >>> tone = np.sin(np.arange(8000) / 3.0).astype(np.float32)
        >>> len(trim_silence(np.concatenate([np.zeros(4000, np.float32), tone, np.zeros(4000, np.float32)]), 8000))
        8448
    """
    import librosa

    frame = max(16, int(0.064 * sampling_rate)) if frame_length is None else frame_length
    trimmed, _ = librosa.effects.trim(wave, top_db=top_db, frame_length=frame, hop_length=frame // 4)
    return trimmed if len(trimmed) and len(trimmed) >= min_kept_s * sampling_rate else wave
