"""Corpus recipes (``prepare_*`` -> ``datasets.DatasetDict`` with an ``Audio`` column), training pairs and augmentation.

Every recipe is deterministic given ``seed``, splits by class/speaker (``train`` / ``validation`` / ``test``), and
with an ``output_dir`` saves atomically with a ``README.md`` card saying whether the audio is real or synthesised.
See ``docs/DATA.md`` for the corpora, licenses and CLI (``wav2tok data <corpus> ...``).
"""

from .augment import (
    PITCH_SHIFT_SEMITONES,
    TIME_STRETCH_RATES,
    Augmenter,
    add_noise,
    apply_gain,
    pitch_shift,
    pitch_shift_versions,
    pitch_shifted,
    stretch_and_shift,
    time_stretch,
    time_stretched,
)
from .degrade import Degrader, degrade, list_degradations, load_noise_bank, room_impulse_responses
from .essen import list_essen_tunes, parse_melody, prepare_essen
from .mastmelody import prepare_mastmelody, prepare_mastmelody_samples, read_f0
from .pairs import MixedPairDataset, PairDataset, collate
from .speech_commands import SpeechClip, load_speech_commands_clips, prepare_speech_commands
from .spoken_words import DIGITS_PATTERN, load_spoken_word_clips, prepare_spoken_words
from .speechocean762 import (
    OceanUtterance,
    load_speechocean762,
    prepare_speechocean762,
    read_word_alignments,
    speechocean762_std_splits,
)
from .std import prepare_std, speech_region

__all__ = [
    "DIGITS_PATTERN",
    "PITCH_SHIFT_SEMITONES",
    "TIME_STRETCH_RATES",
    "Augmenter",
    "Degrader",
    "MixedPairDataset",
    "OceanUtterance",
    "PairDataset",
    "SpeechClip",
    "add_noise",
    "apply_gain",
    "collate",
    "degrade",
    "list_degradations",
    "list_essen_tunes",
    "load_noise_bank",
    "load_speech_commands_clips",
    "load_speechocean762",
    "load_spoken_word_clips",
    "parse_melody",
    "pitch_shift",
    "pitch_shift_versions",
    "pitch_shifted",
    "prepare_essen",
    "prepare_mastmelody",
    "prepare_mastmelody_samples",
    "prepare_speech_commands",
    "prepare_spoken_words",
    "prepare_speechocean762",
    "prepare_std",
    "read_f0",
    "read_word_alignments",
    "room_impulse_responses",
    "speech_region",
    "speechocean762_std_splits",
    "stretch_and_shift",
    "time_stretch",
    "time_stretched",
]
