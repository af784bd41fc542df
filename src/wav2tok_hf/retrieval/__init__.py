"""Retrieval with audio tokens: a searchable index, distance kernels, metrics and the paper's baselines.

Example:
    >>> from wav2tok_hf.retrieval import Wav2TokIndex, evaluate_index
    >>> index = Wav2TokIndex(vocab_size=25, vocab_name="demo")
    >>> index.add([[1, 2, 3], [4, 5, 6], [1, 2, 4]], labels=["song-a", "song-b", "song-a"])
    >>> evaluate_index(index, [[1, 2, 3], [4, 5]], ["song-a", "song-b"])["mrr"]
    1.0
"""

from .baselines import (
    BaselineUnavailable,
    HubCTCBaseline,
    LogMelDTWBaseline,
    PitchNotesEDBaseline,
    RelativeNoteDTWBaseline,
    RetrievalBaseline,
    VQLogMelEDBaseline,
    create_baseline,
    harmonic_pitch,
    list_baselines,
    notes_from_pitch,
    register_baseline,
    unregister_baseline,
)
from .index import (
    FRAME_DISTANCES,
    SUBSEQUENCE_DISTANCES,
    TOKEN_DISTANCES,
    SearchResult,
    Vocabulary,
    Wav2TokIndex,
    vocabulary_of,
)
from .metrics import (
    evaluate_index,
    evaluate_retrieval,
    mean_reciprocal_rank,
    rank_of_first_relevant,
    std_scores,
    std_threshold_sweep,
    token_error_rate,
    tokens_to_text,
    top_k_accuracy,
)

__all__ = [
    "FRAME_DISTANCES",
    "SUBSEQUENCE_DISTANCES",
    "TOKEN_DISTANCES",
    "BaselineUnavailable",
    "HubCTCBaseline",
    "LogMelDTWBaseline",
    "PitchNotesEDBaseline",
    "RelativeNoteDTWBaseline",
    "RetrievalBaseline",
    "SearchResult",
    "VQLogMelEDBaseline",
    "Vocabulary",
    "Wav2TokIndex",
    "create_baseline",
    "evaluate_index",
    "evaluate_retrieval",
    "harmonic_pitch",
    "list_baselines",
    "mean_reciprocal_rank",
    "notes_from_pitch",
    "rank_of_first_relevant",
    "register_baseline",
    "std_scores",
    "std_threshold_sweep",
    "token_error_rate",
    "tokens_to_text",
    "top_k_accuracy",
    "unregister_baseline",
    "vocabulary_of",
]
