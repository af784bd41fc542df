"""The pocketsphinx-phones baseline: a real phone recogniser behind the baseline registry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wav2tok_hf.retrieval import BaselineUnavailable, create_baseline, list_baselines
from wav2tok_hf.retrieval.baselines import CMU_PHONES

UTTERANCE = Path(__file__).resolve().parents[2].parent / "shared/data/speechocean762_train/WAVE/SPEAKER0001/000010011.flac"


@pytest.fixture(scope="module")
def phones():
    pytest.importorskip("pocketsphinx")
    return create_baseline("pocketsphinx-phones")


def test_registered_with_the_cmu_phone_inventory(phones):
    assert "pocketsphinx-phones" in list_baselines()
    assert phones.vocabulary.size == len(CMU_PHONES) + 1 == 40 and phones.distance == "levenshtein"


def test_real_speech_gives_its_phones_with_contiguous_durations(phones):
    if not UTTERANCE.is_file():
        pytest.skip(f"{UTTERANCE} not available")
    wave, rate = sf.read(UTTERANCE, dtype="float32")  # "WE CALL IT BEAR", a 6-year-old non-native speaker
    ids, durations = phones.encode(wave, sampling_rate=rate, return_durations=True)
    recognised = [CMU_PHONES[i] for i in ids]
    assert {"W", "IY", "K", "B"} & set(recognised) >= {"W", "IY", "K"}
    assert len(durations) == len(ids) and sum(durations) == pytest.approx(len(wave) / rate)
    assert phones.encode([wave], sampling_rate=rate) == [ids]  # deterministic, list in -> list out
    narrow = phones.encode(wave[::2].copy(), sampling_rate=8000)  # resampled to 16 kHz inside
    assert len(narrow) > 5


def test_silence_is_the_single_sil_token(phones):
    ids, durations = phones.encode(np.zeros(16000, dtype=np.float32), sampling_rate=16000, return_durations=True)
    assert ids == [phones.silence_id] == [len(CMU_PHONES)] and durations == [1.0]


def test_missing_package_is_reported_as_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(BaselineUnavailable, match="pip install pocketsphinx"):
        create_baseline("pocketsphinx-phones")
