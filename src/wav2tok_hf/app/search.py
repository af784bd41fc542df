"""The app's searches as plain, testable objects: tokenise a checked clip, rank a catalog, align the best match.

Example (a tiny catalog of one model's own renditions; the app builds the Essen catalog instead):
    >>> import numpy as np
    >>> from wav2tok_hf import Wav2TokModel
    >>> from wav2tok_hf.retrieval import Wav2TokIndex
    >>> model = Wav2TokModel.from_pretrained("checkpoints/wav2tok-qbsh")
    >>> tone = lambda f: np.sin(2 * np.pi * f * np.arange(16000) / 8000).astype(np.float32)
    >>> clips = {"up": np.concatenate([tone(220), tone(330)]), "down": np.concatenate([tone(330), tone(220)])}
    >>> index = Wav2TokIndex.from_encoder(model)
    >>> index.add_audio(model, list(clips.values()), sampling_rate=8000, ids=list(clips))
    >>> outcome = Searcher(model, Catalog(index)).search(clips["up"], sampling_rate=8000)
    >>> outcome.hits[0].item_id, outcome.alignment.counts()["substitution"]
    ('up', 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio_utils import trim_silence
from ..data.augment import pitch_shift_versions
from ..retrieval.index import SUBSEQUENCE_DISTANCES, vocabulary_of
from ..retrieval.std import best_windows
from .alignment import TokenAlignment, align_tokens
from .catalog import Catalog
from .inputs import HUM_LIMITS, ClipError, ClipLimits, check_clip


@dataclass(frozen=True)
class Hit:
    """One ranked item: ``score`` is the index distance (lower is closer); ``start_s``/``end_s`` the matched span
    inside the item for subsequence searches, or the best window of a windowed catalog (``item_id``: its recording)."""

    rank: int
    item_id: str
    title: str
    score: float
    audio: str | None
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class SearchOutcome:
    """A query's tokens (with per-token durations), its top hits and its alignment with the best hit."""

    query_tokens: list[int]
    query_durations_s: list[float]
    query_seconds: float
    distance: str
    hits: list[Hit]
    best_tokens: list[int]
    alignment: TokenAlignment


def default_distance(catalog: Catalog, subsequence: bool) -> str:
    """Subsequence search (a word inside an utterance, unless the catalog holds the utterances as windows: then the
    word is matched against whole windows) or whole-item search (a hum against a song opening), with the
    substitution-weighted distance when the index carries substitution costs."""
    if subsequence and not catalog.windows:
        return "normalized_subsequence_levenshtein"
    weighted = catalog.index.substitution_costs is not None
    return "normalized_weighted_levenshtein" if weighted else "normalized_levenshtein"


class Searcher:
    """Search ``catalog`` with clips tokenised by ``model`` (which must be the model that made the catalog).

    Args:
        distance: an index distance; default :func:`default_distance` (``subsequence`` chooses which).
        limits: accepted clip lengths (``check_clip``).
        top_k: hits returned.
        trim_db: cut leading / trailing audio quieter than this many dB below the loudest frame before tokenising
            (``trim_silence``); ``None`` keeps the clip whole.
    """

    def __init__(self, model: Any, catalog: Catalog, distance: str | None = None, subsequence: bool = False,
                 limits: ClipLimits = HUM_LIMITS, top_k: int = 10, trim_db: float | None = 40.0):
        catalog.check_encoder(model)
        self.model, self.catalog, self.limits, self.top_k, self.trim_db = model, catalog, limits, top_k, trim_db
        self.distance = distance or default_distance(catalog, subsequence)
        self._vocabulary = vocabulary_of(model)

    def _wave(self, audio: Any, sampling_rate: int | None) -> np.ndarray:
        """The checked clip at the model's rate, trimmed; ``ClipError`` for unusable audio."""
        rate = self.model.config.sampling_rate
        wave, _ = check_clip(audio, self.limits, sampling_rate=sampling_rate, target_sampling_rate=rate)
        return wave if self.trim_db is None else trim_silence(wave, rate, self.trim_db)

    def _tokens(self, wave: np.ndarray) -> tuple[list[int], list[float]]:
        tokens, durations = self.model.encode(wave, sampling_rate=self.model.config.sampling_rate,
                                              return_durations=True)
        if not tokens:
            raise ClipError("The model heard nothing it could tokenise in this recording; hum or speak louder.")
        return list(tokens), list(durations)

    def search(self, audio: Any, sampling_rate: int | None = None) -> SearchOutcome:
        """Tokenise ``audio`` (a path or an array with ``sampling_rate``) and rank the catalog (at the model's
        ``config.query_pitch_shifts`` when it sets them; the tokens shown are the clip's as recorded)."""
        wave = self._wave(audio, sampling_rate)
        rate = self.model.config.sampling_rate
        tokens, durations = self._tokens(wave)
        index = self.catalog.index
        windows = self.catalog.windows is not None and self.distance not in SUBSEQUENCE_DISTANCES
        top_k = None if windows else self.top_k  # windows: every window ranked, then the best one per recording
        shifts = self.model.config.query_pitch_shifts
        if shifts:
            versions = [tokens if k == 0 else self.model.encode(v, sampling_rate=rate)
                        for k, v in zip(shifts, pitch_shift_versions(wave, shifts, rate)[0])]
            result = index.search_versions(versions, distance=self.distance, top_k=top_k, vocabulary=self._vocabulary)
        else:
            result = index.search(tokens, distance=self.distance, top_k=top_k, vocabulary=self._vocabulary)
        seconds = len(wave) / rate
        rows = best_windows(result)[:self.top_k] if windows else result.to_list()  # ids: recordings / items
        hits = [Hit(rank + 1, row["id"], self.catalog.title(row["id"]), row["score"],
                    self.catalog.audio_path(row["id"]), row.get("start_s"), row.get("end_s"))
                for rank, row in enumerate(rows)]
        best = index.sequence(rows[0]["window"] if windows else rows[0]["id"]).tolist()
        if self.distance in SUBSEQUENCE_DISTANCES:
            best = best[rows[0]["start"]:rows[0]["end"]]
        return SearchOutcome(tokens, durations, seconds, self.distance, hits, best, align_tokens(tokens, best))


__all__ = ["Hit", "SearchOutcome", "Searcher", "default_distance"]
