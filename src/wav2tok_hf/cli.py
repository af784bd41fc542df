"""``wav2tok``: a thin command line over the library.

    wav2tok demo [--output-dir wav2tok-qbsh]            build the Essen corpus, train, print MRR vs baselines
    wav2tok train --config configs/released/qbsh-intervals.yaml [section.key=value ...]   (an experiment or a stages YAML)
    wav2tok data <essen|mastmelody|speech-commands|std> OUTPUT_DIR ...
    wav2tok tokenize MODEL AUDIO [AUDIO ...]
    wav2tok push MODEL_DIR REPO_ID ...
    wav2tok card MODEL_DIR ...                          render the model card into MODEL_DIR/README.md
    wav2tok index build MODEL AUDIO_DIR_OR_DATASET INDEX_DIR   tokenise a corpus into a searchable index
    wav2tok index search INDEX_DIR QUERY [QUERY ...]     rank the index for each query (files or folders)
    wav2tok app [--index DIR] [--speech-folder DIR]     the web app (same as `python app.py`)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

def _train(args: argparse.Namespace) -> int:
    from .training import load_stages
    from .training.experiment import run_training

    experiments = load_stages(args.config, args.overrides)  # one, or the stages of a released recipe, in order
    for experiment in experiments:
        if len(experiments) > 1 and _stage_done(experiment):  # a rerun continues where the recipe stopped
            print(json.dumps({"stage": experiment.name, "output_dir": experiment.training["output_dir"],
                              "skipped": "already trained with this config"}, indent=1))
            continue
        result, _ = run_training(experiment)
        print(json.dumps({"stage": experiment.name, "output_dir": result.output_dir, "steps": result.steps,
                          "best_validation_mrr": result.best_metric, "best_step": result.best_step,
                          "pairs_per_second": round(result.pairs_per_second, 2)}, indent=1))
    return 0


def _stage_done(experiment) -> bool:
    """A stage whose output folder holds the model trained by exactly this experiment (its saved
    ``training_config.json``) and whose run reached ``max_steps`` (the last checkpoint)."""
    from .saving import saved_experiment
    from .training import training_arguments
    from .training.checkpoint import latest_checkpoint

    args = training_arguments(experiment.training)
    last = latest_checkpoint(args.run_dir)
    saved = saved_experiment(args.output_dir)
    return (saved is not None and last is not None and int(os.path.basename(last).split("_")[1]) >= args.max_steps
            and saved == json.loads(json.dumps(experiment.to_dict())))


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.config, output_dir=args.output_dir, overrides=args.overrides, report=args.report,
             overwrite=args.overwrite, progress=not args.no_progress)
    return 0


def _app(args: argparse.Namespace) -> int:
    from .app.ui import run_app

    return run_app(args)


def check_model_source(model: str) -> None:
    """Refuse, before loading anything, a model argument that is neither a wav2tok model folder nor a Hub id: a
    missing local path (not an "invalid repo id"), a file, or a folder whose config names another model type (not a
    request to run custom code)."""
    from .saving import MODEL_TYPE

    if os.path.isdir(model):
        config = os.path.join(model, "config.json")
        try:
            with open(config, encoding="utf-8") as f:
                model_type = json.load(f).get("model_type")
        except (OSError, ValueError, AttributeError):
            raise ValueError(f"model folder {model!r} has no readable config.json; accepted: a saved wav2tok model "
                             "folder or a Hub id") from None
        if model_type != MODEL_TYPE:
            raise ValueError(f"{config} has model_type={model_type!r}; accepted: {MODEL_TYPE!r} (a wav2tok model)")
    elif os.path.exists(model):
        raise ValueError(f"model {model!r} is a file; accepted: a saved wav2tok model folder or a Hub id")
    elif model.startswith((".", "/", "~")) or model.endswith("/") or model.count("/") > 1 or os.sep != "/" and os.sep in model:
        raise ValueError(f"model folder {model!r} not found (and it is no Hub id, which looks like 'owner/name')")


def _tokenize(args: argparse.Namespace) -> int:
    from transformers import pipeline

    from . import AudioTokenizationPipeline  # noqa: F401  (registers the task)

    check_model_source(args.model)
    for path in args.audio:
        if not os.path.isfile(path):
            raise ValueError(f"audio {path!r} " + ("is a folder" if os.path.isdir(path) else "not found")
                             + "; accepted: paths of audio files")
    tokenizer = pipeline("audio-tokenization", model=args.model)
    for path in args.audio:
        out = tokenizer(path)
        print(json.dumps({"audio": path, "tokens": out["tokens"], "durations_s": [round(d, 4) for d in out["durations_s"]]}))
    return 0


def _card_field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not (name.isidentifier() and name.isascii()):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME a template field name, got {text!r}")
    return name, value


def _card_fields(args: argparse.Namespace) -> dict:
    fields: dict = {}
    if args.card_fields_json:
        with open(args.card_fields_json, encoding="utf-8") as f:
            loaded = json.load(f)
        if not isinstance(loaded, dict):
            raise SystemExit(f"{args.card_fields_json}: expected a JSON object of template fields")
        fields.update(loaded)
    fields.update(dict(args.card_field))
    return fields


def _push(args: argparse.Namespace) -> None:
    from .hub import push_model

    commit = push_model(args.model_dir, args.repo_id, benchmark_json=args.benchmark_json or None,
                        private=args.private, token=args.token, commit_message=args.commit_message,
                        card_fields=_card_fields(args), template=args.template)
    print(commit.commit_url)


def _card(args: argparse.Namespace) -> None:
    from .hub import write_model_card

    print(write_model_card(args.model_dir, args.repo_id, args.benchmark_json or None, _card_fields(args), args.template))


def _add_hub_commands(commands: argparse._SubParsersAction) -> None:
    """``wav2tok push MODEL_DIR REPO_ID`` (`wav2tok_hf.hub.push_model`) and ``wav2tok card MODEL_DIR`` (the card a
    push would upload, written to MODEL_DIR/README.md), with the same model card options."""
    from .hub import DEFAULT_COMMIT_MESSAGE

    card_options = argparse.ArgumentParser(add_help=False)
    card_options.add_argument("--benchmark-json", action="append", default=[], metavar="FILE",
                              help="benchmark result JSON for the card's table (repeat for several corpora)")
    card_options.add_argument("--card-field", action="append", default=[], type=_card_field, metavar="NAME=VALUE",
                              help="value of a model card template field, e.g. training_data=... (repeatable)")
    card_options.add_argument("--card-fields-json", metavar="FILE", help="JSON object of template field values")
    card_options.add_argument("--template", metavar="FILE",
                              help="model card template (default: the packaged model_card.md)")

    push = commands.add_parser(
        "push", parents=[card_options],
        help="publish a trained model on the Hugging Face Hub (one commit, with a model card)",
        description="Upload a saved wav2tok model, its processor, code, model card and benchmark results in one "
        "commit. The Hub is HF_ENDPOINT (default https://huggingface.co); the token comes from --token, HF_TOKEN "
        "or `hf auth login`. See docs/HUB.md.",
    )
    push.add_argument("model_dir", help="directory written by save_pretrained or the trainer")
    push.add_argument("repo_id", help="Hub repository, e.g. me/wav2tok-qbsh")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    push.add_argument("--commit-message", default=DEFAULT_COMMIT_MESSAGE, help="commit summary")
    push.set_defaults(func=_push)

    card = commands.add_parser("card", parents=[card_options],
                               help="render the model card into MODEL_DIR/README.md (no upload)")
    card.add_argument("model_dir", help="directory written by save_pretrained or the trainer")
    card.add_argument("--repo-id", default=None, help="id shown in the card (default: the directory name)")
    card.set_defaults(func=_card)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wav2tok", description="wav2tok: learned audio tokens for retrieval")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build the embedded Essen corpus, train wav2tok-qbsh, report MRR vs baselines")
    demo.add_argument("--config", default=None, help="experiment YAML (default: released/qbsh-intervals.yaml, shipped with the package)")
    demo.add_argument("--output-dir", default="wav2tok-qbsh", help="where the trained model is saved (default ./wav2tok-qbsh)")
    demo.add_argument("--overwrite", action="store_true",
                      help="allow --output-dir to be an existing file or a non-model folder (other files there are kept)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars for the benchmark steps")
    demo.add_argument("--report", default=None, help="also write the benchmark JSON here (default: OUTPUT_DIR/benchmark.json)")
    demo.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.max_steps=100")
    demo.set_defaults(func=_demo)

    train = commands.add_parser("train", help="train a model from an experiment YAML")
    train.add_argument("--config", required=True, help="experiment YAML, or a stages YAML that trains its experiments in order (see configs/README.md)")
    train.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.max_steps=100")
    train.set_defaults(func=_train)

    tokenize = commands.add_parser("tokenize", help="print the tokens of audio files")
    tokenize.add_argument("model", help="a saved model directory or Hub id")
    tokenize.add_argument("audio", nargs="+", help="audio files")
    tokenize.set_defaults(func=_tokenize)

    from .app.options import add_app_arguments

    app = commands.add_parser("app", help="the web app: hum to search, find where a word was said, see the tokens")
    add_app_arguments(app).set_defaults(func=_app)

    from .data.cli import add_data_commands

    add_data_commands(commands)
    _add_hub_commands(commands)
    from .retrieval.build import add_index_commands

    add_index_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except (ValueError, TypeError, OSError) as error:  # OSError: files, network, Hub HTTP errors (HfHubHTTPError)
        message = " ".join(str(error).split()) or type(error).__name__  # one line, whatever the library wrote
        print(f"wav2tok {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
