"""Checks on a user's recording before any model runs: decodable, long enough, not too long, not silent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio_utils import load_audio

logger = logging.getLogger(__name__)
ACCEPTED_FILES = "WAV, FLAC or OGG (MP3, M4A and WebM too where FFmpeg is installed)"
SILENCE_PEAK = 1e-3  # below this peak amplitude (-60 dBFS) a clip holds no usable sound


class ClipError(ValueError):
    """A recording the app cannot use; the message is written for the person who recorded it."""


@dataclass(frozen=True)
class ClipLimits:
    """Accepted clip lengths in seconds for one view (a hummed melody is longer than a spoken word)."""

    min_s: float
    max_s: float


HUM_LIMITS = ClipLimits(min_s=1.0, max_s=60.0)
WORD_LIMITS = ClipLimits(min_s=0.2, max_s=10.0)
VIEW_LIMITS = ClipLimits(min_s=0.2, max_s=120.0)


def check_clip(audio: Any, limits: ClipLimits, sampling_rate: int | None = None,
               target_sampling_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode ``audio`` (a path, or an array with ``sampling_rate``) to mono float32 and check it for ``limits``.

    Raises:
        ClipError: no audio, undecodable, silent, shorter than ``limits.min_s`` or longer than ``limits.max_s``;
            the message says what was wrong and what is accepted.

    Example:
        >>> wave, rate = check_clip(np.sin(np.arange(16000) / 5.0), HUM_LIMITS, sampling_rate=8000)
        >>> rate, round(len(wave) / rate, 1)
        (8000, 2.0)
        >>> check_clip(np.zeros(16000), HUM_LIMITS, sampling_rate=8000)
        Traceback (most recent call last):
        ...
        wav2tok_hf.app.inputs.ClipError: The recording is silent (peak level below -60 dBFS). Check that the microphone is on and hum or speak closer to it.
    """
    if audio is None:
        raise ClipError("No audio yet: record with the microphone or upload a file "
                        f"({ACCEPTED_FILES}), then press the button again.")
    try:
        wave, rate = load_audio(audio, sampling_rate=sampling_rate)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as error:
        logger.info("undecodable upload: %s", error)
        raise ClipError("Could not read this file as audio: it is damaged or not a sound file. "
                        f"Accepted: {ACCEPTED_FILES}.") from None
    seconds = len(wave) / rate
    if seconds < limits.min_s:
        raise ClipError(f"The recording is too short ({seconds:.2f} s); record at least {limits.min_s:g} s.")
    if seconds > limits.max_s:
        raise ClipError(f"The recording is too long ({seconds:.1f} s); the limit here is {limits.max_s:g} s. "
                        "Trim it or record a shorter excerpt.")
    if float(np.max(np.abs(wave))) < SILENCE_PEAK:
        raise ClipError("The recording is silent (peak level below -60 dBFS). Check that the microphone is on and "
                        "hum or speak closer to it.")
    if target_sampling_rate is not None and rate != target_sampling_rate:
        wave, rate = load_audio(wave, sampling_rate=rate, target_sampling_rate=target_sampling_rate)
    return wave, rate


