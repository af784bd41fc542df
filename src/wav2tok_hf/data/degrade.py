"""What users' recordings go through, as seeded numpy transforms: one registry for evaluation query conditions and
training augmentation.

=============  =========================================================================================
name           transform (``wave, sampling_rate, rng, **options -> wave`` of the same length, float32)
=============  =========================================================================================
``telephone``  resample to 8 kHz, 300-3400 Hz band-pass, G.711 mu-law 8-bit round trip, back to the rate
``mulaw``      mu-law 8-bit quantisation round trip alone
``noise``      real background noise (a random clip of ``noise_bank``) at ``snr_db`` (default 10 dB)
``reverb``     convolution with a room impulse response (``rir_bank``; pyroomacoustics shoebox rooms)
``eq``         microphone colouring: random low cut, high cut and peaking bands (+-``max_gain_db``)
``gain``       random level change in ``gain_db`` (default -20..+12 dB), hard-clipped to [-1, 1]
``dc``         a constant offset of random sign, ``offset`` (default 0.02-0.1) of full scale
=============  =========================================================================================

Filters and resampling are ``scipy.signal``; rooms are ``pyroomacoustics`` (image-source shoebox rooms with wall
absorption from Sabine's formula). Hand-written code is limited to what scipy lacks: the RBJ peaking-EQ biquad and
the mu-law companding formula (audiomentations has both, but pins ``soxr<1``, downgrading the resampler librosa
uses). Room simulation costs seconds per room, so rooms are simulated once into a bank
(:func:`room_impulse_responses`) and drawn from per clip.

Training draws conditions with :class:`Degrader` (same call signature as :class:`~wav2tok_hf.data.Augmenter`, so it
plugs into :class:`~wav2tok_hf.data.PairDataset`); evaluation applies one condition per query with
:func:`degrade` and a per-query seed. Noise clips and rooms of evaluation should not be those of training:
:func:`load_noise_bank` splits the noise clips into disjoint ``train`` / ``test`` halves, and room banks with other
seeds are other rooms.

Example:
    >>> import numpy as np
    >>> from wav2tok_hf.data.degrade import degrade, list_degradations
    >>> wave = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    >>> degrade("telephone", wave, 16000, seed=0).shape
    (16000,)
    >>> "reverb" in list_degradations()
    True
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from ..registry import registering
from .augment import add_noise

Degradation = Callable[..., np.ndarray]
_REGISTRY: dict[str, Degradation] = {}
CHAIN_ORDER = ("reverb", "noise", "eq", "gain", "dc", "telephone", "mulaw")
"""The order :class:`Degrader` applies conditions in: room, ambient noise, microphone, level, channel."""
QUERY_CONDITIONS = ("telephone", "noise", "reverb", "eq", "gain", "dc")
"""The users'-recording conditions the speech benchmark reports, one column each."""


def register_degradation(name: str) -> Callable[[Degradation], Degradation]:
    """Register ``fn(wave, sampling_rate, rng, **options) -> wave`` under ``name``."""
    return registering(_REGISTRY, name, "degradation")


def list_degradations() -> list[str]:
    """Registered degradation names, in the order they were registered."""
    return list(_REGISTRY)


def get_degradation(name: str) -> Degradation:
    """The registered function; an unknown name is a ``KeyError`` listing the registered ones."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown degradation {name!r}; registered: {list_degradations()}")
    return _REGISTRY[name]


def _check(wave: Any, sampling_rate: int) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"expected a non-empty mono waveform (1-D array), got shape {wave.shape}")
    if not isinstance(sampling_rate, (int, np.integer)) or sampling_rate <= 0:
        raise ValueError(f"sampling_rate={sampling_rate!r}; expected a positive integer number of Hz")
    return wave


def degrade(name: str, wave: Any, sampling_rate: int, seed: int | Sequence[int] = 0,
            rng: np.random.Generator | None = None, **options: Any) -> np.ndarray:
    """Apply the registered degradation ``name`` with a generator from ``seed`` (or the given ``rng``).

    Evaluation seeds each query, e.g. ``seed=(run_seed, query_index)``; the name is mixed into the seed, so two
    conditions of one query draw independently.
    """
    fn = get_degradation(name)
    wave = _check(wave, sampling_rate)
    if rng is None:
        seeds = [int(s) for s in (seed if isinstance(seed, Sequence) else [seed])]
        rng = np.random.default_rng([*seeds, zlib.crc32(name.encode())])
    return np.asarray(fn(wave, int(sampling_rate), rng, **options), dtype=np.float32)


# ---------------------------------------------------------------------- channel: telephone band and codec
def mulaw_round_trip(wave: np.ndarray, bits: int = 8) -> np.ndarray:
    """G.711-style mu-law companding to ``bits`` bits and back (mu = 2^bits - 1); input clipped to [-1, 1]."""
    mu = float(2**bits - 1)
    x = np.clip(wave, -1.0, 1.0)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    quantised = np.round((companded + 1) / 2 * mu) / mu * 2 - 1
    return (np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu).astype(np.float32)


@register_degradation("mulaw")
def mulaw(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator, bits: int = 8) -> np.ndarray:
    """mu-law quantisation round trip (the G.711 telephone codec's quantiser)."""
    return mulaw_round_trip(wave, bits)


@register_degradation("telephone")
def telephone(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator,
              band_hz: tuple[float, float] = (300.0, 3400.0), codec: str | None = "mulaw") -> np.ndarray:
    """Narrow-band telephone channel: to 8 kHz (polyphase), 4th-order Butterworth band-pass ``band_hz``, optional
    mu-law codec, back to ``sampling_rate``; the length is kept."""
    if codec not in (None, "mulaw"):
        raise ValueError(f"codec={codec!r}; accepted: None, 'mulaw'")
    g = math.gcd(8000, sampling_rate)
    narrow = resample_poly(wave, 8000 // g, sampling_rate // g)
    narrow = sosfilt(butter(4, band_hz, btype="bandpass", fs=8000, output="sos"), narrow)
    if codec == "mulaw":
        narrow = mulaw_round_trip(narrow)
    out = resample_poly(narrow, sampling_rate // g, 8000 // g)
    return np.pad(out, (0, max(0, len(wave) - len(out))))[: len(wave)].astype(np.float32)


# ---------------------------------------------------------------------- additive real noise
def load_noise_bank(source: str | os.PathLike, part: str = "train", sampling_rate: int = 16000, seed: int = 0,
                    min_rms: float = 1e-4) -> list[np.ndarray]:
    """Real background-noise clips: the ``_silence_`` clips of a Speech Commands copy (folder or Hub id).

    ``part="train"`` / ``"test"`` returns one of two disjoint seeded halves (train on one, evaluate on the other),
    ``"all"`` every clip. Near-silent clips (RMS below ``min_rms``) are dropped: they cannot be scaled to an SNR.

    Example:
        >>> bank = load_noise_bank("../shared/data/speech_commands_test_v0.02", part="test")
        >>> len(bank) > 100, bank[0].dtype
        (True, dtype('float32'))
    """
    from .speech_commands import SILENCE, load_speech_commands_clips

    if part not in ("train", "test", "all"):
        raise ValueError(f"part={part!r}; accepted: 'train', 'test', 'all'")
    clips = sorted((c for c in load_speech_commands_clips(source) if c.word == SILENCE), key=lambda c: c.source_id)
    if not clips:
        raise ValueError(f"{os.fspath(source)!r} has no '_silence_' clips to use as noise")
    order = np.random.default_rng(seed).permutation(len(clips))
    half = len(clips) // 2
    chosen = {"train": order[:half], "test": order[half:], "all": order}[part]
    waves = [clips[i].decode(sampling_rate) for i in sorted(chosen)]
    bank = [w for w in waves if float(np.sqrt(np.mean(np.square(w, dtype=np.float64)))) >= min_rms]
    if not bank:
        raise ValueError(f"every '_silence_' clip of {os.fspath(source)!r} ({part}) is near-silent (RMS < {min_rms})")
    return bank


@register_degradation("noise")
def noise(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator,
          noise_bank: Sequence[np.ndarray] | None = None, snr_db: float | tuple[float, float] = 10.0) -> np.ndarray:
    """Add a random segment of a random ``noise_bank`` clip (at this rate) at ``snr_db`` dB (a number, or a range
    to draw from) below the clip's power. ``noise_bank`` is required: real noise, not white noise."""
    if not noise_bank:
        raise ValueError("noise needs noise_bank=[real noise clips] (e.g. load_noise_bank(speech_commands_folder))")
    snr = float(rng.uniform(*snr_db)) if isinstance(snr_db, (tuple, list)) else float(snr_db)
    return add_noise(wave, snr, rng, noise=noise_bank[int(rng.integers(len(noise_bank)))])


# ---------------------------------------------------------------------- room reverberation
def room_impulse_responses(count: int, sampling_rate: int = 16000, rt60_s: tuple[float, float] = (0.2, 0.7),
                           seed: int = 0) -> list[np.ndarray]:
    """Simulate ``count`` room impulse responses (pyroomacoustics image-source shoebox rooms, seeded).

    Each room is 3-10 x 3-8 x 2.4-4 m with a reverberation time drawn from ``rt60_s`` (wall absorption by Sabine's
    formula); source and microphone stand at least 0.5 m from the walls and 0.5 m apart. Each response starts just
    before its direct-path peak (no propagation delay) and is scaled to a unit direct-path peak. Costs from ~0.1 s
    (RT60 0.2 s) to several seconds (RT60 0.8 s) per room.

    Example:
        >>> rirs = room_impulse_responses(2, 16000, rt60_s=(0.15, 0.2), seed=0)
        >>> len(rirs), float(abs(rirs[0]).max())
        (2, 1.0)
    """
    import pyroomacoustics as pra

    if count < 1:
        raise ValueError(f"count={count}; expected at least one room")
    low, high = rt60_s
    if not 0 < low <= high:
        raise ValueError(f"rt60_s={rt60_s}; expected (min, max) seconds with 0 < min <= max")
    rng = np.random.default_rng(seed)
    rirs = []
    while len(rirs) < count:
        dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.4, 4)])
        rt60 = float(rng.uniform(low, high))
        try:
            absorption, max_order = pra.inverse_sabine(rt60, dims)
        except ValueError:  # this room cannot be that reverberant (or that dry): draw another
            continue
        source, mic = (rng.uniform(0.5, dims - 0.5) for _ in range(2))
        if np.linalg.norm(source - mic) < 0.5:
            continue
        room = pra.ShoeBox(dims, fs=sampling_rate, materials=pra.Material(absorption), max_order=max_order)
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        peak = int(np.argmax(np.abs(rir)))
        rir = rir[max(0, peak - 8):]
        rirs.append((rir / np.abs(rir).max()).astype(np.float32))
    return rirs


@register_degradation("reverb")
def reverb(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator,
           rir_bank: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Convolve with a random room impulse response of ``rir_bank`` (simulated at this rate; one new room is
    simulated when no bank is given, which is slow), keep the first ``len(wave)`` samples and the clip's RMS level."""
    if rir_bank:
        rir = rir_bank[int(rng.integers(len(rir_bank)))]
    else:
        rir = room_impulse_responses(1, sampling_rate, seed=int(rng.integers(2**31)))[0]
    wet = fftconvolve(wave.astype(np.float64), rir)[: len(wave)]
    scale = np.sqrt(np.mean(np.square(wave, dtype=np.float64)) / (np.mean(wet**2) + 1e-20))
    return (wet * scale).astype(np.float32)


# ---------------------------------------------------------------------- microphone colouring, level, DC
def peaking_sos(center_hz: float, gain_db: float, q: float, sampling_rate: int) -> np.ndarray:
    """One RBJ-cookbook peaking-EQ biquad as a ``(1, 6)`` second-order section (scipy has no gain-parameterised
    peaking filter)."""
    a_gain = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * center_hz / sampling_rate
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a_gain, -2 * np.cos(w0), 1 - alpha * a_gain]
    a = [1 + alpha / a_gain, -2 * np.cos(w0), 1 - alpha / a_gain]
    return np.array([b + a]) / a[0]


@register_degradation("eq")
def eq(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator, low_cut_hz: tuple[float, float] = (50.0, 300.0),
       high_cut_hz: tuple[float, float] = (4000.0, 7500.0), bands: int = 3, max_gain_db: float = 10.0) -> np.ndarray:
    """A random microphone response: 2nd-order high-pass at a cut-off in ``low_cut_hz``, 2nd-order low-pass in
    ``high_cut_hz`` (skipped at or above Nyquist) and ``bands`` peaking filters at log-uniform centres 150 Hz-6 kHz,
    Q 0.7-2, gains uniform in +-``max_gain_db``; the clip's RMS level is kept."""
    nyquist = sampling_rate / 2
    sections = [butter(2, min(rng.uniform(*low_cut_hz), 0.45 * sampling_rate), btype="highpass", fs=sampling_rate,
                       output="sos")]
    high = rng.uniform(*high_cut_hz)
    if high < 0.95 * nyquist:
        sections.append(butter(2, high, btype="lowpass", fs=sampling_rate, output="sos"))
    for _ in range(bands):
        center = float(np.exp(rng.uniform(np.log(150.0), np.log(min(6000.0, 0.8 * nyquist)))))
        sections.append(peaking_sos(center, float(rng.uniform(-max_gain_db, max_gain_db)), float(rng.uniform(0.7, 2.0)),
                                    sampling_rate))
    out = sosfilt(np.concatenate(sections), wave.astype(np.float64))
    scale = np.sqrt(np.mean(np.square(wave, dtype=np.float64)) / (np.mean(out**2) + 1e-20))
    return (out * scale).astype(np.float32)


@register_degradation("gain")
def gain(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator,
         gain_db: tuple[float, float] = (-20.0, 12.0)) -> np.ndarray:
    """Scale by a gain drawn uniformly from ``gain_db`` decibels; samples beyond full scale clip at +-1."""
    return np.clip(wave * np.float32(10 ** (rng.uniform(*gain_db) / 20)), -1.0, 1.0).astype(np.float32)


@register_degradation("dc")
def dc(wave: np.ndarray, sampling_rate: int, rng: np.random.Generator,
       offset: tuple[float, float] = (0.02, 0.1)) -> np.ndarray:
    """Add a constant offset of random sign and magnitude drawn from ``offset`` (fraction of full scale)."""
    return (wave + np.float32(rng.choice([-1.0, 1.0]) * rng.uniform(*offset))).astype(np.float32)


# ---------------------------------------------------------------------- training augmentation
@dataclass
class Degrader:
    """Random users'-recording conditions for training views, applied in :data:`CHAIN_ORDER`.

    Each of ``conditions`` is applied with ``probability`` (one number, or ``{name: p}``); ``options`` holds each
    condition's keyword arguments (e.g. ``{"noise": {"snr_db": (5, 30)}}``); ``noise_bank`` / ``rir_bank`` feed
    ``noise`` / ``reverb``. ``base`` (e.g. an :class:`~wav2tok_hf.data.Augmenter` for time-stretch and pitch shift)
    runs first. Callable like an ``Augmenter``: ``degrader(wave, sampling_rate, rng)``.

    Example:
        >>> import numpy as np
        >>> degrader = Degrader(conditions=("eq", "gain", "dc", "telephone"), probability=1.0)
        >>> wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
        >>> degrader(wave, 16000, np.random.default_rng(1)).shape
        (16000,)
    """

    conditions: tuple[str, ...] = ("reverb", "noise", "eq", "gain", "dc", "telephone")
    probability: float | dict[str, float] = 0.3
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    noise_bank: Sequence[np.ndarray] | None = None
    rir_bank: Sequence[np.ndarray] | None = None
    base: Callable[[np.ndarray, int, np.random.Generator], np.ndarray] | None = None

    def __post_init__(self):
        unknown = [name for name in self.conditions if name not in _REGISTRY]
        if unknown:
            raise KeyError(f"unknown degradations {unknown}; registered: {list_degradations()}")
        if "noise" in self.conditions and not self.noise_bank:
            raise ValueError("the 'noise' condition needs noise_bank= (e.g. load_noise_bank(folder, part='train'))")
        if "reverb" in self.conditions and not self.rir_bank:
            raise ValueError("the 'reverb' condition needs rir_bank= (e.g. room_impulse_responses(64, sampling_rate))")
        probabilities = self.probability if isinstance(self.probability, dict) else {}
        for name in self.conditions:
            p = probabilities.get(name, 0.0) if isinstance(self.probability, dict) else self.probability
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"probability {p} for {name!r} must lie in [0, 1]")
        self._order = [name for name in CHAIN_ORDER if name in self.conditions]
        self._order += [name for name in self.conditions if name not in self._order]

    def _p(self, name: str) -> float:
        return self.probability.get(name, 0.0) if isinstance(self.probability, dict) else float(self.probability)

    def __call__(self, wave: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        out = self.base(wave, sampling_rate, rng) if self.base is not None else _check(wave, sampling_rate)
        for name in self._order:
            if rng.random() < self._p(name):
                options = dict(self.options.get(name, {}))
                if name == "noise":
                    options.setdefault("noise_bank", self.noise_bank)
                if name == "reverb":
                    options.setdefault("rir_bank", self.rir_bank)
                out = degrade(name, out, sampling_rate, rng=rng, **options)
        return out
