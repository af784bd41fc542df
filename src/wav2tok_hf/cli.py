"""``wav2tok``: a thin command line over the library.

    wav2tok demo [--output-dir wav2tok-qbsh]            build the Essen corpus, train, print MRR vs baselines
    wav2tok train --config configs/qbsh.yaml [section.key=value ...]
    wav2tok data <essen|mastmelody|speech-commands|std> OUTPUT_DIR ...
    wav2tok tokenize MODEL AUDIO [AUDIO ...]
    wav2tok push MODEL_DIR REPO_ID ...
    wav2tok card MODEL_DIR ...                          render the model card into MODEL_DIR/README.md
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

DEFAULT_DEMO_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "qbsh.yaml")


def _train(args: argparse.Namespace) -> int:
    from .training import load_experiment
    from .training.experiment import run_training

    experiment = load_experiment(args.config, args.overrides)
    result, _ = run_training(experiment)
    print(json.dumps({"output_dir": result.output_dir, "steps": result.steps, "best_validation_mrr": result.best_metric,
                      "best_step": result.best_step, "pairs_per_second": round(result.pairs_per_second, 2)}, indent=1))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.config, output_dir=args.output_dir, overrides=args.overrides, report=args.report)
    return 0


def _tokenize(args: argparse.Namespace) -> int:
    from transformers import pipeline

    from . import AudioTokenizationPipeline  # noqa: F401  (registers the task)

    tokenizer = pipeline("audio-tokenization", model=args.model)
    for path in args.audio:
        out = tokenizer(path)
        print(json.dumps({"audio": path, "tokens": out["tokens"], "durations_s": [round(d, 4) for d in out["durations_s"]]}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wav2tok", description="wav2tok: learned audio tokens for retrieval")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build the embedded Essen corpus, train wav2tok-qbsh, report MRR vs baselines")
    demo.add_argument("--config", default=os.path.normpath(DEFAULT_DEMO_CONFIG), help="experiment YAML (default configs/qbsh.yaml)")
    demo.add_argument("--output-dir", default="wav2tok-qbsh", help="where the trained model is saved (default ./wav2tok-qbsh)")
    demo.add_argument("--report", default=None, help="also write the benchmark JSON here (default: OUTPUT_DIR/benchmark.json)")
    demo.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.max_steps=100")
    demo.set_defaults(func=_demo)

    train = commands.add_parser("train", help="train a model from an experiment YAML")
    train.add_argument("--config", required=True, help="experiment YAML (see configs/)")
    train.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.max_steps=100")
    train.set_defaults(func=_train)

    tokenize = commands.add_parser("tokenize", help="print the tokens of audio files")
    tokenize.add_argument("model", help="a saved model directory or Hub id")
    tokenize.add_argument("audio", nargs="+", help="audio files")
    tokenize.set_defaults(func=_tokenize)

    from .data.cli import add_data_commands
    from .hub import add_card_command, add_push_command

    add_data_commands(commands)
    add_push_command(commands)
    add_card_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, TypeError, ConnectionError) as error:
        print(f"wav2tok {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
