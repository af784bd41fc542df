"""Every experiment YAML in configs/ resolves (base chain included) into a valid model config, data section and
training arguments, so a typo in a lever's file fails here rather than minutes into a run."""

from pathlib import Path

import pytest

from wav2tok_hf import Wav2TokConfig
from wav2tok_hf.training import load_experiment
from wav2tok_hf.training.arguments import training_arguments
from wav2tok_hf.training.experiment import check_data_section

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


def test_configs_are_found():
    assert len(CONFIGS) >= 10 and {"qbsh.yaml", "speech.yaml", "paper.yaml"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_experiment_config_is_valid(path):
    experiment = load_experiment(path)
    assert experiment.name == path.stem and experiment.description.strip()
    Wav2TokConfig(**experiment.model)
    if experiment.data.get("corpus") != "essen":  # real corpora take their folder on the command line
        assert experiment.data.get("source") is None
        experiment = load_experiment(path, ["data.source=/a/local/folder"])
    check_data_section(experiment.data)
    args = training_arguments(experiment.training)
    assert args.max_steps > 0 and args.output_dir
