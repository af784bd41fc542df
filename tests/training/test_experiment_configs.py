"""Every experiment YAML under configs/ resolves (base chain included) into a valid model config, data section and
training arguments, so a typo in a lever's file fails here rather than minutes into a run; the layout rules of
configs/README.md hold (inheritance at most two levels deep, unique names, each config in the README's table, the
stages of a release chained)."""

import re
from pathlib import Path

import pytest
import yaml

from wav2tok_hf import Wav2TokConfig
from wav2tok_hf.training import load_experiment, load_stages
from wav2tok_hf.training.arguments import training_arguments
from wav2tok_hf.training.experiment import check_data_section

ROOT = Path(__file__).parents[2] / "configs"
ALL = sorted(ROOT.rglob("*.yaml"))
STAGES = [p for p in ALL if "stages" in yaml.safe_load(p.read_text())]
CONFIGS = [p for p in ALL if p not in STAGES]


def test_configs_are_found():
    found = {p.relative_to(ROOT).as_posix() for p in CONFIGS}
    assert len(CONFIGS) >= 10 and {"released/qbsh.yaml", "levers/speech/speech.yaml", "paper/paper.yaml",
                                   "released/speech-freqconv-robust-ft.yaml"} <= found
    assert {p.relative_to(ROOT).as_posix() for p in STAGES} == {"released/wav2tok-speech.yaml"}


def _depth(path: Path) -> int:
    base = yaml.safe_load(path.read_text()).get("base")
    return 0 if base is None else 1 + _depth(path.parent / base)


def test_layout_rules():
    """Inheritance at most two levels deep; names (hence default output folders) unique; every config in the table."""
    deep = {p.relative_to(ROOT).as_posix(): _depth(p) for p in CONFIGS if _depth(p) > 2}
    assert not deep, f"base chains deeper than 2: {deep}"
    names = [p.stem for p in ALL]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    table = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"\(([\w/.-]+\.yaml)\)", table))
    assert listed == {p.relative_to(ROOT).as_posix() for p in ALL}


def test_release_stages_chain():
    """The stages of the released speech model continue one another and write where the README says."""
    stages = load_stages(ROOT / "released" / "wav2tok-speech.yaml", ["data.source=/a/local/folder"])
    assert [s.name for s in stages] == ["speech-freqconv", "speech-freqconv-cont", "speech-freqconv-robust-ft"]
    assert [s.training["output_dir"] for s in stages] == [f"wav2tok-{s.name}" for s in stages]
    assert all(s.data["source"] == "/a/local/folder" for s in stages)
    with pytest.raises(ValueError, match="chain the stages"):
        load_stages(ROOT / "released" / "wav2tok-speech.yaml", ["training.output_dir=elsewhere"])
    with pytest.raises(ValueError, match="lists training stages"):
        load_experiment(ROOT / "released" / "wav2tok-speech.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_experiment_config_is_valid(path):
    experiment = load_experiment(path)
    assert experiment.name == path.stem and experiment.description.strip()
    stated = (yaml.safe_load(path.read_text()).get("training") or {}).get("output_dir")
    assert experiment.training["output_dir"] == (stated or f"wav2tok-{path.stem}")  # derived unless the file states one
    Wav2TokConfig(**experiment.model)
    if experiment.data.get("corpus") != "essen":  # real corpora take their folder on the command line
        assert experiment.data.get("source") is None
        experiment = load_experiment(path, ["data.source=/a/local/folder"])
    check_data_section(experiment.data)
    args = training_arguments(experiment.training)
    assert args.max_steps > 0 and args.output_dir
