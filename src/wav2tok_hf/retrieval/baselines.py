"""Retrieval baselines of the wav2tok paper behind one interface, registered by name (timm-style).

Every baseline has ``fit(train_audio, sampling_rate)`` (a no-op where nothing is learned),
``encode(audio_or_list, sampling_rate)`` (token id lists, or ``(frames, dim)`` float arrays for DTW baselines),
a ``distance`` understood by :class:`~wav2tok_hf.retrieval.Wav2TokIndex` and a ``vocabulary``.

=====================  ===========================================================  =====================
name                   representation                                               distance
=====================  ===========================================================  =====================
``logmel-dtw``         log-mel frames, per-utterance mean normalised                ``dtw`` (cosine)
``vq-logmel-ed``       K-means ids of log-mel frames (fit on training audio)        ``levenshtein``
``pitch-notes-ed``     pitch track -> notes -> MIDI note numbers                    ``levenshtein``
``relative-note-dtw``  (interval in semitones, log2 duration ratio) per note        ``dtw`` (euclidean)
``pitch-contour-dtw``  voiced pitch track, pitch class relative to the clip's key    ``dtw`` (euclidean)
``wav2vec2-o``         greedy CTC ids of ``facebook/wav2vec2-base-960h``            ``levenshtein``
``wav2vec2-multi``     greedy CTC ids of ``facebook/wav2vec2-xlsr-53-espeak-cv-ft``  ``levenshtein``
``hub-ctc``            greedy CTC ids of any ``Wav2Vec2ForCTC`` ``model_id``       ``levenshtein``
``pocketsphinx-phones``  PocketSphinx allphone decoding (US-English model) -> phones  ``levenshtein``
=====================  ===========================================================  =====================

Example:
    >>> import numpy as np
    >>> from wav2tok_hf.retrieval import create_baseline, list_baselines
    >>> "pitch-notes-ed" in list_baselines()
    True
    >>> tone = np.sin(2 * np.pi * 220.0 * np.arange(8000) / 8000).astype(np.float32)
    >>> create_baseline("pitch-notes-ed").encode([tone], sampling_rate=8000)
    [[57]]
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..audio_utils import load_audio
from ..checks import check_positive_int
from ..configuration_wav2tok import Wav2TokConfig
from ..modeling_wav2tok import codebook_substitution_costs, collapse_runs
from ..pitch import harmonic_pitch, pitch_class_key, pyin_pitch
from ..registry import registering
from .index import Vocabulary

_REGISTRY: dict[str, Callable[..., RetrievalBaseline]] = {}


class BaselineUnavailable(RuntimeError):
    """A baseline cannot run here (e.g. its Hub checkpoint cannot be downloaded). Benchmarks report it as skipped."""


def register_baseline(name: str) -> Callable:
    """Register a baseline class or factory under ``name`` for :func:`create_baseline`.

    Example:
        >>> @register_baseline("my-constant")
        ... class Constant(RetrievalBaseline):
        ...     vocabulary = Vocabulary("my-constant", 1)
        ...     def encode(self, audio, sampling_rate=None, return_durations=False):
        ...         return [[0] for _ in audio]
        >>> create_baseline("my-constant").encode([None, None])
        [[0], [0]]
        >>> unregister_baseline("my-constant")
    """
    return registering(_REGISTRY, name, "baseline")


def unregister_baseline(name: str) -> None:
    """Remove a registered baseline."""
    if name not in _REGISTRY:
        raise KeyError(f"no baseline named {name!r}; registered: {list_baselines()}")
    del _REGISTRY[name]


def list_baselines(pattern: str | None = None) -> list[str]:
    """Sorted registered baseline names, optionally filtered by a shell-style ``pattern`` (e.g. ``"*-ed"``)."""
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def create_baseline(name: str, **kwargs: Any) -> RetrievalBaseline:
    """Instantiate a registered baseline by name with its keyword arguments.

    Raises:
        KeyError: unknown name (the message lists the registered ones).
        BaselineUnavailable: the baseline cannot be loaded here (e.g. Hub checkpoint unreachable).

    Example:
        >>> create_baseline("vq-logmel-ed", n_clusters=16).distance
        'levenshtein'
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown baseline {name!r}; registered: {list_baselines()}")
    return _REGISTRY[name](**kwargs)


class RetrievalBaseline:
    """Base class: audio in (any input :func:`~wav2tok_hf.load_audio` accepts), sequences out.

    Subclasses set ``name``, ``distance`` (``"levenshtein"`` or ``"dtw"``), ``metric`` (DTW frame metric),
    ``frame_rate`` (frames per second of frame outputs, if any), ``sampling_rate`` and implement
    :meth:`encode` and :attr:`vocabulary`.
    """

    name: str = "baseline"
    distance: str = "levenshtein"
    metric: str | None = None
    frame_rate: float | None = None
    sampling_rate: int = 16000

    def fit(self, train_audio: list, sampling_rate: int | None = None) -> RetrievalBaseline:
        """Learn from training audio where the baseline needs it (a no-op otherwise); returns ``self``."""
        return self

    def encode(self, audio: Any, sampling_rate: int | None = None, return_durations: bool = False):
        raise NotImplementedError

    @property
    def vocabulary(self) -> Vocabulary:
        raise NotImplementedError

    def substitution_costs(self) -> np.ndarray | None:
        """``(K, K)`` substitution costs of the weighted edit distances, for token baselines with a codebook; ``None``
        (the default) where tokens have no geometry."""
        return None

    def _waves(self, audio: Any, sampling_rate: int | None) -> tuple[list[np.ndarray], bool]:
        """Decode/resample inputs to ``self.sampling_rate``; returns ``(waves, was_single_input)``."""
        single = not isinstance(audio, (list, tuple))
        items = [audio] if single else list(audio)
        waves = [load_audio(a, sampling_rate=sampling_rate, target_sampling_rate=self.sampling_rate,
                            name=f"audio[{k}]")[0] for k, a in enumerate(items)]
        return waves, single

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, distance={self.distance!r})"


def _durations_from_onsets(onsets: np.ndarray, total: float) -> list[float]:
    """Token k spans [onset_k, onset_k+1) (the first from 0, the last to ``total``): contiguous durations."""
    bounds = np.concatenate([[0.0], onsets[1:], [total]])
    return np.diff(bounds).tolist()


# ---------------------------------------------------------------------- log-mel baselines
class _LogMelMixin:
    def _init_logmel(self, sampling_rate, n_fft, hop_length, n_mels, fmin, fmax):
        self.sampling_rate, self.n_fft, self.hop_length = int(sampling_rate), int(n_fft), int(hop_length)
        self.n_mels, self.fmin, self.fmax = int(n_mels), float(fmin), fmax
        self.frame_rate = self.sampling_rate / self.hop_length

    def logmel(self, wave: np.ndarray) -> np.ndarray:
        """Per-utterance mean-normalised log-mel frames ``(frames, n_mels)``."""
        import librosa

        mel = librosa.feature.melspectrogram(y=wave, sr=self.sampling_rate, n_fft=self.n_fft,
                                             hop_length=self.hop_length, n_mels=self.n_mels, fmin=self.fmin,
                                             fmax=self.fmax)
        frames = np.log(mel + 1e-6).T.astype(np.float32)
        return frames - frames.mean(axis=0, keepdims=True)

    def _logmel_name(self, prefix: str) -> str:
        return (f"{prefix}-sr{self.sampling_rate}-fft{self.n_fft}-hop{self.hop_length}-mels{self.n_mels}"
                f"-fmin{self.fmin:g}-fmax{self.fmax}")


@register_baseline("logmel-dtw")
class LogMelDTWBaseline(_LogMelMixin, RetrievalBaseline):
    """Log-mel frames with per-utterance mean normalisation, compared by DTW (paper Table 2: log-mel DTW).

    Example:
        >>> import numpy as np
        >>> frames = LogMelDTWBaseline(sampling_rate=8000).encode(np.zeros(8000, np.float32), sampling_rate=8000)
        >>> frames.shape
        (32, 64)
    """

    name = "logmel-dtw"
    distance = "dtw"

    def __init__(self, sampling_rate: int = 16000, n_fft: int = 512, hop_length: int = 256, n_mels: int = 64,
                 fmin: float = 60.0, fmax: float | None = None, metric: str = "cosine"):
        self._init_logmel(sampling_rate, n_fft, hop_length, n_mels, fmin, fmax)
        self.metric = metric

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self._logmel_name(self.name), self.n_mels, "frames")

    def encode(self, audio: Any, sampling_rate: int | None = None) -> np.ndarray | list[np.ndarray]:
        waves, single = self._waves(audio, sampling_rate)
        frames = [self.logmel(w) for w in waves]
        return frames[0] if single else frames


@register_baseline("vq-logmel-ed")
class VQLogMelEDBaseline(_LogMelMixin, RetrievalBaseline):
    """K-means ids of log-mel frames (fit on training audio), repeats collapsed, compared by ED
    (paper Table 2: vq-log-mel ED).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> train = [rng.standard_normal(8000).astype(np.float32) for _ in range(2)]
        >>> vq = VQLogMelEDBaseline(n_clusters=4, sampling_rate=8000).fit(train, sampling_rate=8000)
        >>> all(0 <= t < 4 for t in vq.encode(train[0], sampling_rate=8000))
        True
    """

    name = "vq-logmel-ed"
    distance = "levenshtein"

    def __init__(self, n_clusters: int = 64, sampling_rate: int = 16000, n_fft: int = 512, hop_length: int = 256,
                 n_mels: int = 64, fmin: float = 60.0, fmax: float | None = None, max_fit_frames: int = 100_000,
                 seed: int = 0,
                 substitution_temperature: float = Wav2TokConfig.substitution_temperature):
        if n_clusters < 2:
            raise ValueError(f"n_clusters={n_clusters}; expected >= 2")
        self._init_logmel(sampling_rate, n_fft, hop_length, n_mels, fmin, fmax)
        self.n_clusters, self.max_fit_frames, self.seed = int(n_clusters), int(max_fit_frames), seed
        self.substitution_temperature = substitution_temperature
        self.centroids: np.ndarray | None = None

    def fit(self, train_audio: list, sampling_rate: int | None = None) -> VQLogMelEDBaseline:
        """K-means (k-means++, scikit-learn) over at most ``max_fit_frames`` random log-mel frames of
        ``train_audio``."""
        from sklearn.cluster import KMeans

        waves, _ = self._waves(list(train_audio), sampling_rate)
        frames = np.concatenate([self.logmel(w) for w in waves])
        rng = np.random.default_rng(self.seed)
        if len(frames) > self.max_fit_frames:
            frames = frames[rng.choice(len(frames), self.max_fit_frames, replace=False)]
        if len(frames) < self.n_clusters:
            raise ValueError(f"{len(frames)} training frames for n_clusters={self.n_clusters}; pass more audio")
        kmeans = KMeans(self.n_clusters, n_init=1, random_state=self.seed).fit(frames)
        self.centroids = kmeans.cluster_centers_.astype(np.float32)
        return self

    def _require_fit(self) -> np.ndarray:
        if self.centroids is None:
            raise RuntimeError(f"{self.name} has no codebook yet; call .fit(train_audio, sampling_rate) first")
        return self.centroids

    def substitution_costs(self) -> np.ndarray:
        """``(K, K)`` substitution costs of the weighted edit distance between the K-means centroids, defined as for
        wav2tok codewords (``min(2, (1 - cos) / substitution_temperature)``), so both token models are compared
        under the same weighted ranking."""
        return codebook_substitution_costs(self._require_fit(), self.substitution_temperature)

    @property
    def vocabulary(self) -> Vocabulary:
        digest = hashlib.sha1(self._require_fit().tobytes()).hexdigest()[:12]
        return Vocabulary(f"{self._logmel_name(self.name)}-K{self.n_clusters}-{digest}", self.n_clusters)

    def encode(self, audio: Any, sampling_rate: int | None = None, return_durations: bool = False):
        centroids = self._require_fit()
        waves, single = self._waves(audio, sampling_rate)
        ids, durations = [], []
        squared = (centroids * centroids).sum(1)
        for wave in waves:
            frames = self.logmel(wave)
            nearest = np.argmin(squared[None, :] - 2.0 * frames @ centroids.T, axis=1)
            seq, runs = collapse_runs(nearest)
            ids.append(seq)
            durations.append((np.asarray(runs) / self.frame_rate).tolist())
        if single:
            ids, durations = ids[0], durations[0]
        return (ids, durations) if return_durations else ids


# ---------------------------------------------------------------------- pitch baselines
def notes_from_pitch(midi: np.ndarray, frame_rate: float, min_note_s: float = 0.08,
                     smooth_frames: int = 5) -> list[tuple[int, float, float]]:
    """Segment a frame-wise MIDI pitch track (NaN = unvoiced) into ``(note, onset_s, duration_s)`` notes.

    The voiced track is median-smoothed, rounded to semitones, cut into runs of one note; runs shorter than
    ``min_note_s`` are dropped and the remaining contiguous runs of the same note merged.

    Example:
        >>> import numpy as np
        >>> notes_from_pitch(np.r_[[60.1] * 20, [np.nan] * 5, [64.0] * 20], frame_rate=100.0)
        [(60, 0.0, 0.2), (64, 0.25, 0.2)]
    """
    from scipy.ndimage import median_filter

    voiced = np.isfinite(midi)
    rounded = np.full(len(midi), -1, dtype=np.int64)
    if voiced.any():
        smoothed = median_filter(np.where(voiced, midi, 0.0), size=smooth_frames, mode="nearest")
        rounded[voiced] = np.clip(np.rint(smoothed[voiced]), 0, 127)
    ids, runs = collapse_runs(rounded)
    starts = np.concatenate([[0], np.cumsum(runs)[:-1]]).astype(int)
    min_frames = max(1, int(round(min_note_s * frame_rate)))
    notes: list[list] = []  # [note, first frame, end frame]
    for note, start, run in zip(ids, starts, runs):
        if note < 0 or run < min_frames:
            continue
        if notes and notes[-1][0] == note and notes[-1][2] == start:
            notes[-1][2] = start + run
        else:
            notes.append([note, start, start + run])
    return [(int(n), round(float(s / frame_rate), 6), round(float((e - s) / frame_rate), 6)) for n, s, e in notes]


class _PitchMixin:
    def _init_pitch(self, sampling_rate, hop_s, fmin, fmax, min_note_s, tracker):
        if tracker not in ("harmonic", "pyin"):
            raise ValueError(f"tracker={tracker!r}; accepted: ('harmonic', 'pyin')")
        self.sampling_rate, self.fmin, self.fmax, self.min_note_s, self.tracker = (
            int(sampling_rate), float(fmin), float(fmax), float(min_note_s), tracker)
        self.hop_length = max(1, int(round(hop_s * self.sampling_rate)))

    def track(self, wave: np.ndarray) -> np.ndarray:
        """MIDI pitch per frame (``hop_s`` apart) of a mono wave at ``self.sampling_rate``; NaN where unvoiced."""
        tracker = pyin_pitch if self.tracker == "pyin" else harmonic_pitch
        return tracker(wave, self.sampling_rate, self.hop_length, fmin=self.fmin, fmax=self.fmax)

    def notes(self, wave: np.ndarray) -> list[tuple[int, float, float]]:
        """``(MIDI note, onset_s, duration_s)`` of a mono wave at ``self.sampling_rate``; never empty (a clip without
        a stable note gives its most common voiced, or loudest-frame, pitch as one note)."""
        import librosa

        midi = self.track(wave)
        frame_rate = self.sampling_rate / self.hop_length
        notes = notes_from_pitch(midi, frame_rate, min_note_s=self.min_note_s)
        if not notes:
            voiced = midi[np.isfinite(midi)]
            fallback = np.median(voiced) if len(voiced) else librosa.hz_to_midi(self.fmin)
            notes = [(int(np.clip(np.rint(fallback), 0, 127)), 0.0, len(wave) / self.sampling_rate)]
        return notes

    def _pitch_name(self, prefix: str) -> str:
        return f"{prefix}-{self.tracker}-sr{self.sampling_rate}-hop{self.hop_length}-minnote{self.min_note_s:g}"


@register_baseline("pitch-notes-ed")
class PitchNotesEDBaseline(_PitchMixin, RetrievalBaseline):
    """Melody extraction -> note segmentation -> MIDI note numbers (vocabulary 128), compared by ED
    (paper Table 1: MIDI ED). ``tracker="harmonic"`` (fast harmonic summation, default) or ``"pyin"`` (librosa).
    """

    name = "pitch-notes-ed"
    distance = "levenshtein"

    def __init__(self, sampling_rate: int = 8000, hop_s: float = 0.016, fmin: float = 70.0, fmax: float = 1000.0,
                 min_note_s: float = 0.08, tracker: str = "harmonic"):
        self._init_pitch(sampling_rate, hop_s, fmin, fmax, min_note_s, tracker)

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self._pitch_name(self.name), 128)

    def encode(self, audio: Any, sampling_rate: int | None = None, return_durations: bool = False):
        waves, single = self._waves(audio, sampling_rate)
        ids, durations = [], []
        for wave in waves:
            notes = self.notes(wave)
            ids.append([n for n, _, _ in notes])
            durations.append(_durations_from_onsets(np.array([s for _, s, _ in notes]), len(wave) / self.sampling_rate))
        if single:
            ids, durations = ids[0], durations[0]
        return (ids, durations) if return_durations else ids


@register_baseline("relative-note-dtw")
class RelativeNoteDTWBaseline(_PitchMixin, RetrievalBaseline):
    """Transposition- and tempo-invariant note sequence: per note, (interval to the previous note in semitones,
    ``duration_weight`` x log2 of its duration ratio to the previous note), compared by euclidean DTW
    (paper Table 1: relative-note DTW). A one-note clip gives the single row ``[0, 0]``.
    """

    name = "relative-note-dtw"
    distance = "dtw"
    metric = "euclidean"

    def __init__(self, sampling_rate: int = 8000, hop_s: float = 0.016, fmin: float = 70.0, fmax: float = 1000.0,
                 min_note_s: float = 0.08, tracker: str = "harmonic", duration_weight: float = 1.0):
        self._init_pitch(sampling_rate, hop_s, fmin, fmax, min_note_s, tracker)
        self.duration_weight = float(duration_weight)

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(f"{self._pitch_name(self.name)}-dw{self.duration_weight:g}", 2, "frames")

    def encode(self, audio: Any, sampling_rate: int | None = None) -> np.ndarray | list[np.ndarray]:
        waves, single = self._waves(audio, sampling_rate)
        out = []
        for wave in waves:
            notes = np.array([(n, d) for n, _, d in self.notes(wave)], dtype=np.float64)
            if len(notes) < 2:
                out.append(np.zeros((1, 2), dtype=np.float32))
                continue
            intervals = np.diff(notes[:, 0])
            ratios = self.duration_weight * np.diff(np.log2(notes[:, 1]))
            out.append(np.stack([intervals, ratios], axis=1).astype(np.float32))
        return out[0] if single else out


@register_baseline("pitch-contour-dtw")
class PitchContourDTWBaseline(_PitchMixin, RetrievalBaseline):
    """Classic query-by-humming matching of pitch contours: the voiced frames of a pitch track (every
    ``subsample``-th), as points on the pitch-class circle relative to the clip's key
    (:func:`~wav2tok_hf.pitch.pitch_class_key`, the ``pitch`` front end's key),
    compared by euclidean DTW. Transposition-, octave- and (through DTW) tempo-invariant; no note segmentation.
    A clip without voiced frames gives the single row ``[0, 0]``.

    Example:
        >>> tone = np.sin(2 * np.pi * 220.0 * np.arange(8000) / 8000).astype(np.float32)
        >>> PitchContourDTWBaseline().encode(tone, sampling_rate=8000).shape
        (32, 2)
    """

    name = "pitch-contour-dtw"
    distance = "dtw"
    metric = "euclidean"

    def __init__(self, sampling_rate: int = 8000, hop_s: float = 0.016, fmin: float = 70.0, fmax: float = 1000.0,
                 subsample: int = 2, tracker: str = "harmonic"):
        check_positive_int("subsample", subsample)
        self._init_pitch(sampling_rate, hop_s, fmin, fmax, 0.0, tracker)
        self.subsample = subsample
        self.frame_rate = self.sampling_rate / self.hop_length / subsample

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(f"{self.name}-{self.tracker}-sr{self.sampling_rate}-hop{self.hop_length}-sub{self.subsample}",
                          2, "frames")

    def encode(self, audio: Any, sampling_rate: int | None = None) -> np.ndarray | list[np.ndarray]:
        waves, single = self._waves(audio, sampling_rate)
        out = []
        for wave in waves:
            midi = self.track(wave)
            midi = midi[np.isfinite(midi)][:: self.subsample]
            if len(midi) == 0:
                out.append(np.zeros((1, 2), dtype=np.float32))
                continue
            track = torch.from_numpy(np.asarray(midi, dtype=np.float64))[None]
            key = pitch_class_key(track, torch.ones_like(track, dtype=torch.bool)).item()
            angle = (midi - key) * (2 * np.pi / 12)
            out.append(np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32))
        return out[0] if single else out


# ---------------------------------------------------------------------- PocketSphinx phone recogniser
CMU_PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
              "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
              "Z", "ZH")
"""The 39 phones of the CMU dictionary, the token ids of ``pocketsphinx-phones`` (in this order; id 39 = ``SIL``,
the one token of a clip in which no phone is recognised)."""


@register_baseline("pocketsphinx-phones")
class PocketSphinxPhonesBaseline(RetrievalBaseline):
    """Phone strings from PocketSphinx's allphone search (its bundled US-English acoustic model and phone bigram
    model), silence and fillers dropped (a clip without any phone is the single token ``SIL``, id 39), compared by
    ED: a real trained phone recogniser, run locally, standing in
    for the paper's wav2vec2 phoneme CTC tokens. ``language_weight`` / ``beam`` follow CMU's phoneme-recognition
    recipe (``-lw 2.0 -beam 1e-20 -pbeam 1e-20``). Input is resampled to 16 kHz and quantised to 16 bits.

    Raises:
        BaselineUnavailable: the ``pocketsphinx`` package is not installed.

    Example:
        >>> import numpy as np
        >>> wave = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.01
        >>> ids = create_baseline("pocketsphinx-phones").encode(wave, sampling_rate=16000)
        >>> len(ids) >= 1 and all(0 <= i <= len(CMU_PHONES) for i in ids)
        True
    """

    name = "pocketsphinx-phones"
    distance = "levenshtein"
    sampling_rate = 16000
    frame_rate = 100.0

    def __init__(self, language_weight: float = 2.0, beam: float = 1e-20, sampling_rate: int | None = None):
        try:
            from pocketsphinx import Decoder, get_model_path
        except ImportError as error:
            raise BaselineUnavailable(f"{self.name}: the pocketsphinx package is not installed ({error}); "
                                      "pip install pocketsphinx") from error
        import os

        model = os.path.join(get_model_path(), "en-us")
        self.language_weight, self.beam = float(language_weight), float(beam)
        self._decoder = Decoder(hmm=os.path.join(model, "en-us"), allphone=os.path.join(model, "en-us-phone.lm.bin"),
                                lw=self.language_weight, beam=self.beam, pbeam=self.beam, samprate=16000,
                                loglevel="FATAL")
        self._ids = {phone: k for k, phone in enumerate(CMU_PHONES)}
        self.silence_id = len(CMU_PHONES)

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(f"{self.name}-en-us-lw{self.language_weight:g}-beam{self.beam:g}", len(CMU_PHONES) + 1)

    def phones(self, wave: np.ndarray) -> list[tuple[str, float, float]]:
        """``(phone, start_s, end_s)`` of every recognised phone (silence and fillers included) of a 16 kHz wave."""
        pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        return [(seg.word, seg.start_frame / self.frame_rate, (seg.end_frame + 1) / self.frame_rate)
                for seg in self._decoder.seg()]

    def encode(self, audio: Any, sampling_rate: int | None = None, return_durations: bool = False):
        waves, single = self._waves(audio, sampling_rate)
        ids, durations = [], []
        for wave in waves:
            kept = [(self._ids[p], start) for p, start, _ in self.phones(wave) if p in self._ids]
            kept = kept or [(self.silence_id, 0.0)]
            ids.append([k for k, _ in kept])
            durations.append(_durations_from_onsets(np.array([t for _, t in kept]), len(wave) / self.sampling_rate))
        if single:
            ids, durations = ids[0], durations[0]
        return (ids, durations) if return_durations else ids


# ---------------------------------------------------------------------- Hub CTC tokenizers
@register_baseline("hub-ctc")
class HubCTCBaseline(RetrievalBaseline):
    """Greedy CTC ids of a 🤗 ``Wav2Vec2ForCTC`` checkpoint (Hub id or local folder): per-frame argmax, repeats
    collapsed, blanks (the pad id) removed; compared by ED. ``wav2vec2-o`` and ``wav2vec2-multi`` are this class
    with the paper's checkpoints.

    Raises:
        BaselineUnavailable: the checkpoint or its feature extractor cannot be loaded (e.g. no Hub access).

    Example:
        >>> try:
        ...     create_baseline("hub-ctc", model_id="./no-such-checkpoint")
        ... except BaselineUnavailable as error:
        ...     print("skipped:", error.args[0].split(" (")[0])
        skipped: hub-ctc: cannot load './no-such-checkpoint'
    """

    name = "hub-ctc"
    distance = "levenshtein"

    def __init__(self, model_id: str, name: str | None = None, device: str = "cpu"):
        from transformers import AutoFeatureExtractor, Wav2Vec2ForCTC

        self.model_id = model_id
        if name is not None:
            self.name = name
        try:
            self.feature_extractor = AutoFeatureExtractor.from_pretrained(model_id)
            self.model = Wav2Vec2ForCTC.from_pretrained(model_id).to(device).eval()
        except (OSError, ValueError, ImportError) as error:
            raise BaselineUnavailable(
                f"{self.name}: cannot load {model_id!r} ({type(error).__name__}: {str(error).splitlines()[0]})"
            ) from error
        self.sampling_rate = int(self.feature_extractor.sampling_rate)
        self.blank_id = self.model.config.pad_token_id if self.model.config.pad_token_id is not None else 0
        self.frame_rate = self.sampling_rate / float(np.prod(self.model.config.conv_stride))

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(f"hub-ctc:{self.model_id}", int(self.model.config.vocab_size))

    def encode(self, audio: Any, sampling_rate: int | None = None, return_durations: bool = False):
        """One clip at a time: checkpoints without an attention mask (e.g. wav2vec2-base) change their outputs on
        zero-padded batches."""
        import torch

        waves, single = self._waves(audio, sampling_rate)
        device = next(self.model.parameters()).device
        ids, durations = [], []
        for wave in waves:
            inputs = self.feature_extractor(wave, sampling_rate=self.sampling_rate, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(inputs.input_values.to(device)).logits[0]
            frames = logits.argmax(-1).cpu().numpy()
            runs, lengths = collapse_runs(frames)
            onsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            keep = np.asarray(runs) != self.blank_id
            ids.append(np.asarray(runs)[keep].tolist())
            durations.append(_durations_from_onsets(onsets[keep] / self.frame_rate, len(frames) / self.frame_rate)
                             if keep.any() else [])
        if single:
            ids, durations = ids[0], durations[0]
        return (ids, durations) if return_durations else ids


@register_baseline("wav2vec2-o")
def wav2vec2_o(**kwargs: Any) -> HubCTCBaseline:
    """Greedy CTC characters of ``facebook/wav2vec2-base-960h`` (English ASR)."""
    return HubCTCBaseline("facebook/wav2vec2-base-960h", name="wav2vec2-o", **kwargs)


@register_baseline("wav2vec2-multi")
def wav2vec2_multi(**kwargs: Any) -> HubCTCBaseline:
    """Greedy CTC phonemes of ``facebook/wav2vec2-xlsr-53-espeak-cv-ft`` (multilingual phoneme recogniser)."""
    return HubCTCBaseline("facebook/wav2vec2-xlsr-53-espeak-cv-ft", name="wav2vec2-multi", **kwargs)
