"""Typed hyperparameters: a trial's config and a space file's keys and values are checked against the same
model; an unknown key is an error in both places, located to FILE:LINE with a did-you-mean in the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from hwk4tune.registry import TRAINABLES
from hwk4tune.registry.hyperparams import CnnHyperparameters, ConfigError, Hyperparameters, ResNetHyperparameters
from hwk4tune.spec import SpecError, load_space, load_sweep

# ------------------------------------------------------------------------------------------ in a trial


def test_defaults_follow_the_architecture_table():
    c = CnnHyperparameters.from_config({})
    assert (c.optimizer, c.lr, c.momentum, c.weight_decay, c.l1, c.dropout) == ("adam", 1e-3, 0.9, 0, 0, 0)
    assert (c.hidden, c.batch_norm, c.batch_size, c.seed, c.checkpoint_interval) == (256, False, 64, None, 1)
    r = ResNetHyperparameters.from_config({})
    assert (r.finetune, r.augment, r.pretrained, r.weights_path, r.dropout) == ("head", True, "auto", None, 0.0)


def test_registry_entries_carry_their_model():
    assert TRAINABLES["cnn"].hyperparameters is CnnHyperparameters
    assert TRAINABLES["resnet"].hyperparameters is ResNetHyperparameters
    # shape-fixing hyperparameters never mutate under PBT/PB2
    assert set(TRAINABLES["cnn"].fixed_while_training) == {"optimizer", "hidden", "batch_norm"}
    assert set(TRAINABLES["resnet"].fixed_while_training) == {"optimizer", "finetune"}


@pytest.mark.parametrize("model, key", [
    (CnnHyperparameters, "lr_typo"),
    (CnnHyperparameters, "finetune"),  # a resnet hyperparameter
    (ResNetHyperparameters, "hidden"),  # a cnn hyperparameter
    (ResNetHyperparameters, "__trial_index__"),
])
def test_unknown_key_is_an_error_naming_it_and_the_valid_ones(model, key):
    with pytest.raises(ConfigError) as info:
        model.from_config({"lr": 0.01, key: 1})
    text = str(info.value)
    assert f"{key} = 1: unknown hyperparameter" in text
    assert text.startswith(f"invalid hyperparameters for {model.__name__}: ")
    assert "valid: optimizer, lr, " in text
    assert "\n" not in text


@pytest.mark.parametrize("model, config, words", [
    (CnnHyperparameters, {"lr": -0.1}, ["lr = -0.1", "greater than 0"]),
    (CnnHyperparameters, {"optimizer": "rmsprop"}, ["optimizer = 'rmsprop'", "'sgd', 'momentum', 'adam' or 'adagrad'"]),
    (CnnHyperparameters, {"dropout": 1.0}, ["dropout = 1.0", "less than 1"]),
    (CnnHyperparameters, {"batch_size": 0}, ["batch_size = 0"]),
    (CnnHyperparameters, {"lr": float("nan")}, ["lr = nan"]),
    (CnnHyperparameters, {"hidden": 32.5}, ["hidden = 32.5"]),
    (ResNetHyperparameters, {"finetune": "layer3"}, ["finetune = 'layer3'"]),
    (ResNetHyperparameters, {"pretrained": "yes"}, ["pretrained = 'yes'"]),
])
def test_bad_values_are_named(model, config, words):
    with pytest.raises(ConfigError) as info:
        model.from_config(config)
    for w in words:
        assert w in str(info.value)


def test_every_bad_key_in_one_message():
    with pytest.raises(ConfigError) as info:
        CnnHyperparameters.from_config({"lr": 0, "dropout": -1, "optimizer": "adam", "lr_typo": 2})
    text = str(info.value)
    assert "lr = 0" in text and "dropout = -1" in text and "lr_typo = 2" in text
    assert "optimizer = " not in text  # the good key is not named as bad


def test_numpy_values_become_python_values():
    c = CnnHyperparameters.from_config({"lr": np.float64(0.01), "hidden": np.int64(128), "batch_norm": np.bool_(True)})
    assert c.lr == 0.01 and c.hidden == 128 and type(c.hidden) is int and c.batch_norm is True


def test_frozen_and_base_is_shared():
    c = CnnHyperparameters.from_config({"lr": 0.1})
    with pytest.raises(ValidationError, match="frozen"):
        c.lr = 0.2
    assert issubclass(CnnHyperparameters, Hyperparameters) and issubclass(ResNetHyperparameters, Hyperparameters)
    # the base's fields are both models' own, with one default each (a model that redefined lr or seed would
    # differ here)
    base = Hyperparameters.model_fields
    assert set(base) == {"batch_size", "checkpoint_interval", "l1", "lr", "lr_schedule", "momentum", "optimizer", "precision",
                         "seed", "weight_decay"}
    for model in (CnnHyperparameters, ResNetHyperparameters):
        assert {k: model.model_fields[k].default for k in base} == {k: f.default for k, f in base.items()}, model


# ------------------------------------------------------------------------------------------ in a space file


def space_file(tmp_path: Path, trainable: str, body: str, name: str = "space.yaml") -> Path:
    """A space file whose `space:` starts at line 5 (so the first entry of `body` is line 5)."""
    dataset = "digits" if trainable == "cnn" else "fake"
    path = tmp_path / name
    path.write_text(f"trainable: {trainable}\ndataset: {dataset}\nmax_epochs: 2\nspace:\n"
                    + textwrap.indent(textwrap.dedent(body), "  "))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_space(path)
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems)  # one line per problem
    return lines


# (trainable, body, line, key, fragment that must be in that line)
CASES = {
    "cnn-top-typo-initials": ("cnn", "learning_rate: {loguniform: [1.0e-4, 0.1]}\n", 5, "space.learning_rate",
                              "unknown hyperparameter of trainable 'cnn'; did you mean 'lr'?"),
    "cnn-top-typo-spelling": ("cnn", "lr: 0.1\noptimiser: {choice: [sgd, adam]}\n", 6, "space.optimiser",
                              "did you mean 'optimizer'?"),
    "cnn-resnet-key": ("cnn", "finetune: {choice: [head, all]}\n", 5, "space.finetune",
                       "unknown hyperparameter of trainable 'cnn'"),
    "cnn-constant-typo": ("cnn", "lr: 0.1\nhiden: 64\n", 6, "space.hiden", "did you mean 'hidden'?"),
    "cnn-dropout-high-out-of-bounds": ("cnn", "dropout: {uniform: [0.2, 1.5]}\n", 5, "space.dropout",
                                       "uniform(0.2, 1.5): high 1.5 is not a value trainable 'cnn' takes "
                                       "(input should be less than 1)"),
    "cnn-dropout-low-out-of-bounds": ("cnn", "dropout: {uniform: [-0.1, 0.5]}\n", 5, "space.dropout",
                                      "low -0.1 is not a value trainable 'cnn' takes"),
    "cnn-hidden-float-range": ("cnn", "hidden: {uniform: [16, 64]}\n", 5, "space.hidden",
                               "hidden is an integer hyperparameter: a uniform range draws fractions"),
    "cnn-bad-choice-value": ("cnn", "lr: 0.1\noptimizer: {choice: [sgd, rmsprop]}\n", 6, "space.optimizer",
                             "choice 'rmsprop' is not a value trainable 'cnn' takes"),
    "cnn-bad-constant": ("cnn", "batch_size: 0\n", 5, "space.batch_size",
                         "0 is not a value trainable 'cnn' takes (input should be greater than 0)"),
    "cnn-normal-mean": ("cnn", "weight_decay: {normal: [-1.0, 0.1]}\n", 5, "space.weight_decay",
                        "mean -1.0 is not a value"),
    "cnn-group-under-flat-model": ("cnn", "lr: 0.1\nmomentum:\n  value: {uniform: [0.5, 0.9]}\n", 6,
                                   "space.momentum", "momentum is a single hyperparameter of trainable 'cnn', "
                                   "not a group"),
    "cnn-group-typo": ("cnn", "optim:\n  lr: {uniform: [0.1, 0.2]}\n", 5, "space.optim",
                       "unknown hyperparameter of trainable 'cnn'"),
    "resnet-cnn-key": ("resnet", "hidden: {choice: [32, 64]}\n", 5, "space.hidden",
                       "unknown hyperparameter of trainable 'resnet'"),
    "resnet-top-typo": ("resnet", "lr: 0.1\nfinetun: {choice: [head, all]}\n", 6, "space.finetun",
                        "did you mean 'finetune'?"),
    "resnet-initials": ("resnet", "weight_decay: 0.0\nlearning_rate: 0.1\n", 6, "space.learning_rate",
                        "did you mean 'lr'?"),
    "resnet-bad-choice": ("resnet", "finetune: {choice: [head, layer3]}\n", 5, "space.finetune",
                          "choice 'layer3' is not a value trainable 'resnet' takes "
                          "(input should be 'head', 'layer4' or 'all')"),
    "resnet-bad-constant": ("resnet", "pretrained: downloaded\n", 5, "space.pretrained",
                            "'downloaded' is not a value trainable 'resnet' takes"),
    "resnet-quniform-end": ("resnet", "dropout: {quniform: [0.0, 1.0, 0.1]}\n", 5, "space.dropout",
                            "high 1.0 is not a value"),
    "resnet-group-under-flat-model": ("resnet", "augment:\n  flip: true\n", 5, "space.augment",
                                      "not a group"),
}


@pytest.mark.parametrize("case", CASES)
def test_space_key_or_value_the_trainable_does_not_take(tmp_path, case):
    trainable, body, line, key, fragment = CASES[case]
    path = space_file(tmp_path, trainable, body)
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{line}: {key}: "), found[0]
    assert fragment in found[0], found[0]


def test_every_problem_of_a_file_is_reported_each_at_its_line(tmp_path):
    path = space_file(tmp_path, "cnn", """\
        learning_rate: {loguniform: [1.0e-4, 0.1]}
        lr: 0.1
        dropout: {uniform: [0.2, 1.5]}
        hidden: {uniform: [16, 64]}
        optimiser: adam
        """)
    found = problems(path)
    assert [line.split(": ", 2)[:2] for line in found] == [
        [f"{path}:5", "space.learning_rate"], [f"{path}:7", "space.dropout"], [f"{path}:8", "space.hidden"],
        [f"{path}:9", "space.optimiser"]]


def test_good_spaces_pass_for_both_trainables(tmp_path):
    cnn = load_space(space_file(tmp_path, "cnn", """\
        lr: {loguniform: [1.0e-4, 0.1]}
        hidden: {qrandint: [16, 128, 16]}
        dropout: {uniform: [0.0, 0.9]}
        optimizer: {choice: [sgd, momentum, adam, adagrad]}
        batch_norm: {choice: [true, false]}
        seed: 3
        """, "cnn.yaml"))
    assert set(cnn.params) == {"lr", "hidden", "dropout", "optimizer", "batch_norm"}
    resnet = load_space(space_file(tmp_path, "resnet", """\
        finetune: {choice: [head, layer4, all]}
        pretrained: none
        dropout: {uniform: [0.0, 0.5]}
        """, "resnet.yaml"))
    assert set(resnet.params) == {"finetune", "dropout"} and resnet.space.constants == {"pretrained": "none"}


OWN = '''\
from pydantic import BaseModel, ConfigDict, Field


class Optim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    optim: Optim = Optim()
    width: int = Field(8, gt=0)


def train(config):
    pass


train.hyperparameters = Params
train.reports = ("score", "epoch")
'''


def test_nested_groups_of_an_own_trainable_are_checked_at_every_level(tmp_path):
    (tmp_path / "own.py").write_text(OWN)
    path = tmp_path / "space.yaml"
    path.write_text(textwrap.dedent("""\
        trainable: own.py:train
        metric: score
        max_epochs: 2
        space:
          optim:
            learning_rate: {loguniform: [1.0e-4, 0.1]}
            momentum: {uniform: [0.5, 1.5]}
            mom: 0.5
          width: {uniform: [1, 4]}
          widht: 3
          optimm: {lr: 0.1}
        """))
    found = problems(path)
    expected = [
        (6, "space.optim.learning_rate", "did you mean 'lr'? (it takes: lr, momentum)"),
        (7, "space.optim.momentum", "uniform(0.5, 1.5): high 1.5 is not a value"),
        (8, "space.optim.mom", "did you mean 'momentum'?"),
        (9, "space.width", "width is an integer hyperparameter"),
        (10, "space.widht", "did you mean 'width'?"),
        (11, "space.optimm", "did you mean 'optim'?"),
    ]
    assert len(found) == len(expected), found
    for line, (number, key, fragment) in zip(found, expected):
        assert line.startswith(f"{path}:{number}: {key}: ") and fragment in line, line
    path.write_text(path.read_text().split("    learning_rate")[0] + "    lr: {loguniform: [1.0e-4, 0.1]}\n")
    assert set(load_space(path).params) == {"optim/lr"}


def test_pbt_mutation_with_a_reversed_range_is_located(tmp_path):
    space_file(tmp_path, "cnn", "lr: {loguniform: [1.0e-4, 0.1]}\n")
    path = tmp_path / "sweep.yaml"
    path.write_text("space: space.yaml\nsearcher: random\nscheduler:\n  name: pbt\n  hyperparam_mutations:\n"
                    "    lr: {uniform: [0.1, 0.01]}\n")
    with pytest.raises(SpecError) as info:
        load_sweep(path)
    assert str(info.value) == (f"{path}:5: scheduler.hyperparam_mutations: lr: uniform needs low <= high, "
                               "but got (low=0.1, high=0.01)")
