"""scripts/validate_speech.py: the validation conditions change what they claim to and nothing else."""

from __future__ import annotations

import numpy as np
from wav2tok_test_utils import load_script

from wav2tok_hf.retrieval.evaluation import RetrievalSet


def _script():
    return load_script("validate_speech")


def test_conditions_band_limit_trim_and_degrade_only_what_they_say():
    script = _script()
    sr = script.SAMPLING_RATE
    t = np.arange(sr // 2) / sr
    word = (0.5 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    padded = np.concatenate([np.zeros(sr // 4, np.float32), word, np.zeros(sr // 4, np.float32)])
    rs = RetrievalSet([padded], ["a"], [padded, padded], ["a", "b"], sr)
    queries, database = script.condition_data(rs, "V", {})
    assert queries[0] is padded and database == rs.database
    for name in ("8k", "trim8k"):
        queries, database = script.condition_data(rs, name, {})
        spectrum = np.abs(np.fft.rfft(queries[0]))
        high = spectrum[np.fft.rfftfreq(len(queries[0]), 1 / sr) > 4500].max()
        assert high < 0.01 * spectrum.max() and len(database) == 2  # the 6 kHz partial is gone, both sides
    assert len(word) <= len(script.condition_data(rs, "trim8k", {})[0][0]) <= len(word) + 4096 < len(padded)
    queries, database = script.condition_data(rs, "TS", {})
    assert len(queries[0]) != len(padded) and database == rs.database
    queries, database = script.condition_data(rs, "dc", {})
    assert abs(float(queries[0].mean() - padded.mean())) > 0.01 and database[0] is padded  # queries only
