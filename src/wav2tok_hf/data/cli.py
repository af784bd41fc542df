"""``wav2tok data <corpus> OUTPUT_DIR ...``: build a corpus and save it with ``save_to_disk`` (see docs/DATA.md).

``add_data_commands(subparsers)`` plugs the ``data`` command into a parent CLI; every corpus sub-command sets
``func`` (called with the parsed namespace). ``python -m wav2tok_hf.data.cli <corpus> ...`` runs it standalone.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _rate(text: str) -> int:
    """argparse type of ``--sampling-rate``: an integer number of Hz in the range `load_audio` accepts."""
    from ..audio_utils import check_sampling_rate

    try:
        return check_sampling_rate(int(text), "--sampling-rate")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).replace("sampling_rate=", "")) from None


def check_paths(args: argparse.Namespace) -> None:
    """Refuse, before anything is built, a source that is a file or missing folder, and an output that exists
    (without ``--overwrite``), is a file or lies under a file."""
    source = getattr(args, "source", None)
    if source is not None and os.path.isfile(source):
        raise ValueError(f"--source {source!r} is a file; accepted: a corpus folder (or a Hub dataset id)")
    if source is not None and source.startswith((".", "/", "~")) and not os.path.isdir(source):
        raise ValueError(f"--source folder {source!r} not found")
    out = args.output_dir
    parent = os.path.dirname(os.path.abspath(out))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"OUTPUT_DIR {out!r} lies under {parent!r}, which is a file; accepted: a path in a folder")
    if os.path.lexists(out) and not os.path.isdir(out):
        raise ValueError(f"OUTPUT_DIR {out!r} is an existing file; accepted: a new folder (or an existing corpus "
                         "folder with --overwrite)")
    if os.path.isdir(out) and os.listdir(out) and not args.overwrite:
        raise ValueError(f"OUTPUT_DIR {out!r} already exists; pass --overwrite to replace it, or choose a new folder")


def _common(parser: argparse.ArgumentParser, sampling_rate: int) -> None:
    parser.add_argument("output_dir", help="folder to write (save_to_disk output + README.md dataset card)")
    parser.add_argument("--sampling-rate", type=_rate, default=sampling_rate, help=f"audio rate in Hz (default {sampling_rate})")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT_DIR if it exists")


def _fractions(parser: argparse.ArgumentParser, default: tuple[float, float, float], what: str) -> None:
    parser.add_argument(
        "--split-fractions", type=float, nargs=3, default=default, metavar=("TRAIN", "VAL", "TEST"),
        help=f"fractions of {what} per split (default {' '.join(map(str, default))})",
    )


def _speech_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", required=True, help="Speech Commands folder (manifest.csv or official layout) or a Hub dataset id"
    )
    parser.add_argument("--hub-config", default=None, help="dataset config for a Hub id (e.g. v0.02)")
    parser.add_argument("--hub-split", default="test", help="split to load for a Hub id (default test)")
    parser.add_argument("--exclude-unknown", action="store_true", help="drop the 25 non-keyword ('_unknown_') words")
    parser.add_argument("--max-clips", type=int, default=None, help="keep a seed-chosen subset of at most N clips")


def _spoken_words_source(parser: argparse.ArgumentParser) -> None:
    """The source options of the spoken-words recipe (``wav2tok data spoken-words`` and ``benchmark_speech.py``)."""
    from .spoken_words import DIGITS_PATTERN

    parser.add_argument("--source", required=True, help="a folder of word clips (label and speaker in each file name, "
                        "see --pattern) or a Hub dataset id with audio, label and speaker columns")
    parser.add_argument("--pattern", default=DIGITS_PATTERN,
                        help="regular expression with named groups 'label' and 'speaker' that every audio file's path "
                             "(relative, without suffix) must match (default: <label>_<speaker>_<take>, as the Free "
                             "Spoken Digit Dataset and AudioMNIST name their files)")
    parser.add_argument("--label-column", default="label", help="word column of a Hub dataset (default label)")
    parser.add_argument("--speaker-column", default="speaker", help="speaker column of a Hub dataset (default speaker)")
    parser.add_argument("--hub-config", default=None, help="dataset config for a Hub id")
    parser.add_argument("--hub-split", default="train", help="split to load for a Hub id (default train)")


def _run_essen(args: argparse.Namespace):
    from .essen import prepare_essen

    return prepare_essen(
        args.output_dir, num_songs=tuple(args.num_songs), queries_per_song=args.queries_per_song,
        excerpt_s=args.excerpt_s, full_songs=args.full_songs, random_excerpt=args.random_excerpt, singer=args.singer,
        sampling_rate=args.sampling_rate, seed=args.seed, overwrite=args.overwrite,
    )


def _run_mastmelody(args: argparse.Namespace):
    from .mastmelody import prepare_mastmelody, prepare_mastmelody_samples

    if args.real_samples:
        return prepare_mastmelody_samples(
            args.source, args.output_dir, sampling_rate=args.sampling_rate, overwrite=args.overwrite
        )
    return prepare_mastmelody(
        args.source, args.output_dir, split_fractions=tuple(args.split_fractions), max_melodies=args.max_melodies,
        max_files_per_melody=args.max_files_per_melody, sampling_rate=args.sampling_rate, seed=args.seed,
        synthesizer=args.synthesizer, overwrite=args.overwrite,
    )


def _run_speech_commands(args: argparse.Namespace):
    from .speech_commands import prepare_speech_commands

    return prepare_speech_commands(
        args.source, args.output_dir, include_unknown=not args.exclude_unknown, include_silence=args.include_silence,
        split_fractions=tuple(args.split_fractions), max_clips=args.max_clips, sampling_rate=args.sampling_rate,
        seed=args.seed, hub_config=args.hub_config, hub_split=args.hub_split, overwrite=args.overwrite,
    )


def _run_speechocean762(args: argparse.Namespace):
    from .speechocean762 import prepare_speechocean762

    return prepare_speechocean762(
        args.source, args.output_dir, alignments=args.alignments, split_fractions=tuple(args.split_fractions),
        pad_s=args.pad_s, min_word_s=args.min_word_s, max_speakers=args.max_speakers,
        sampling_rate=args.sampling_rate, seed=args.seed, hub_split=args.hub_split, overwrite=args.overwrite,
    )


def _run_spoken_words(args: argparse.Namespace):
    from .spoken_words import prepare_spoken_words

    return prepare_spoken_words(
        args.source, args.output_dir, pattern=args.pattern, label_column=args.label_column,
        speaker_column=args.speaker_column, split_fractions=tuple(args.split_fractions),
        sampling_rate=args.sampling_rate, seed=args.seed, hub_config=args.hub_config, hub_split=args.hub_split,
        overwrite=args.overwrite,
    )


def _run_std(args: argparse.Namespace):
    from .std import prepare_std

    return prepare_std(
        args.source, args.output_dir, num_utterances=tuple(args.num_utterances),
        words_per_utterance=tuple(args.words_per_utterance), queries_per_word=args.queries_per_word,
        query_speaker_fraction=args.query_speaker_fraction, pause_s=tuple(args.pause_s), snr_db=tuple(args.snr_db),
        include_unknown=not args.exclude_unknown, split_fractions=tuple(args.split_fractions), max_clips=args.max_clips,
        sampling_rate=args.sampling_rate, seed=args.seed, hub_config=args.hub_config, hub_split=args.hub_split,
        overwrite=args.overwrite,
    )


def _report(run):
    def command(args: argparse.Namespace) -> int:
        check_paths(args)
        dataset = run(args)
        print(f"saved to {args.output_dir}:")
        for split, rows in dataset.num_rows.items():
            print(f"  {split}: {rows} rows")
        return 0

    return command


def add_data_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``data`` with one sub-command per corpus (``essen``, ``mastmelody``, ``speech-commands``,
    ``speechocean762``, ``spoken-words``, ``std``)."""
    from .mastmelody import SYNTHESIZERS

    data = subparsers.add_parser("data", help="build a corpus as a datasets.DatasetDict on disk", description=__doc__)
    corpora = data.add_subparsers(dest="corpus", required=True, metavar="CORPUS")

    essen = corpora.add_parser("essen", help="Essen folk melodies -> synthetic query-by-humming corpus (no source needed)")
    _common(essen, 8000)
    essen.add_argument("--num-songs", type=int, nargs=3, default=(300, 50, 100), metavar=("TRAIN", "VAL", "TEST"),
                       help="songs per split (default 300 50 100)")
    essen.add_argument("--queries-per-song", type=int, default=4, help="hummed queries per song (default 4)")
    essen.add_argument("--excerpt-s", type=float, default=8.0, help="seconds of each song that are sung (default 8)")
    essen.add_argument("--full-songs", action="store_true", help="database items are whole songs, not the excerpt")
    essen.add_argument("--random-excerpt", action="store_true", help="queries sing a random region (needs --full-songs)")
    essen.add_argument("--singer", choices=("default", "realistic"), default="default",
                       help="simulated singer: the demo's (default) or one fitted to real singing (realistic)")
    essen.set_defaults(func=_report(_run_essen))

    mast = corpora.add_parser("mastmelody", help="MASTmelody real pitch tracks -> re-synthesised melody corpus")
    _common(mast, 8000)
    mast.add_argument("--source", required=True, help="MASTmelody folder (f0data.tar.xz, annotations.csv, wavSamples/)")
    _fractions(mast, (0.7, 0.15, 0.15), "melodies")
    mast.add_argument("--max-melodies", type=int, default=None, help="keep N seed-chosen melodies (>= 3)")
    mast.add_argument("--max-files-per-melody", type=int, default=None, help="at most N performances and N references per melody")
    mast.add_argument("--synthesizer", choices=SYNTHESIZERS, default="wav2tok",
                      help="renders the pitch tracks: wav2tok (ours: vowel voices and piano, default) or another "
                           "project's, mir_eval.sonify.pitch_contour with a sine, sawtooth or square wave")
    mast.add_argument(
        "--real-samples", action="store_true", help="instead build the 8 real wavSamples recordings (one test split)"
    )
    mast.set_defaults(func=_report(_run_mastmelody))

    speech = corpora.add_parser("speech-commands", help="Speech Commands v0.02 real clips, speaker-disjoint splits")
    _common(speech, 16000)
    _speech_source(speech)
    speech.add_argument("--include-silence", action="store_true", help="keep the '_silence_' background-noise clips")
    _fractions(speech, (0.8, 0.1, 0.1), "speakers")
    speech.set_defaults(func=_report(_run_speech_commands))

    ocean = corpora.add_parser("speechocean762", help="speechocean762 real read speech -> word segments + utterances")
    _common(ocean, 16000)
    ocean.add_argument("--source", required=True,
                       help="speechocean762 folder (manifest.tsv, WAVE/, word_alignments.tsv) or a Hub dataset id")
    ocean.add_argument("--alignments", default=None,
                       help="word-time TSV (utt, word, start, end); default: the folder's word_alignments.tsv "
                            "(a Hub id has none: without this, utterances only)")
    ocean.add_argument("--hub-split", default="train", help="split to load for a Hub id (train, test, train+test)")
    ocean.add_argument("--pad-s", type=float, default=0.05, help="seconds kept around each word (default 0.05)")
    ocean.add_argument("--min-word-s", type=float, default=0.1, help="drop shorter aligned words (default 0.1)")
    ocean.add_argument("--max-speakers", type=int, default=None, help="keep N seed-chosen speakers (>= 3)")
    _fractions(ocean, (0.7, 0.15, 0.15), "speakers")
    ocean.set_defaults(func=_report(_run_speechocean762))

    words = corpora.add_parser("spoken-words", help="your own labelled word clips (e.g. a spoken-digits corpus), "
                               "speaker-disjoint splits")
    _common(words, 16000)
    _spoken_words_source(words)
    _fractions(words, (0.6, 0.2, 0.2), "speakers")
    words.set_defaults(func=_report(_run_spoken_words))

    std = corpora.add_parser("std", help="spoken-term-detection utterances + keyword queries from Speech Commands")
    _common(std, 16000)
    _speech_source(std)
    std.add_argument("--num-utterances", type=int, nargs=3, default=(200, 50, 100), metavar=("TRAIN", "VAL", "TEST"),
                     help="utterances per split (default 200 50 100)")
    std.add_argument("--words-per-utterance", type=int, nargs=2, default=(3, 8), metavar=("MIN", "MAX"))
    std.add_argument("--queries-per-word", type=int, default=2)
    std.add_argument("--query-speaker-fraction", type=float, default=0.3, help="speakers reserved for queries (default 0.3)")
    std.add_argument("--pause-s", type=float, nargs=2, default=(0.1, 0.6), metavar=("MIN", "MAX"))
    std.add_argument("--snr-db", type=float, nargs=2, default=(10.0, 30.0), metavar=("MIN", "MAX"))
    _fractions(std, (0.8, 0.1, 0.1), "speakers")
    std.set_defaults(func=_report(_run_std))
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m wav2tok_hf.data.cli <corpus> OUTPUT_DIR ...``."""
    parser = argparse.ArgumentParser(prog="python -m wav2tok_hf.data.cli")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_data_commands(subparsers)
    args = parser.parse_args(["data", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
