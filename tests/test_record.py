"""`hwk4tune record` from the command line: a seeded random sweep of N configurations, every epoch of every
trial written to a replay table, on the known curves of tests/data/levels (a trial's value is worked out from
its config, so every row of the table can be checked)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from hwk4tune.cli import main

LEVELS = Path(__file__).resolve().parent / "data" / "levels" / "levels.py"
SPACE = f"""\
trainable: {LEVELS}:train
metric: val_accuracy
mode: max
max_epochs: 3
space:
  level: {{uniform: [0.1, 0.5]}}
  optimizer: {{choice: [sgd, adam]}}
"""


def _score():
    spec = importlib.util.spec_from_file_location("levels_for_record", LEVELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


def test_record_writes_every_epoch_of_every_configuration(ray_local, tmp_path, capsys):
    from hwk4tune.results import load_experiment

    (tmp_path / "space.yaml").write_text(SPACE)
    out = tmp_path / "t.parquet"
    args = ["record", str(tmp_path / "space.yaml"), "--configs", "3", "--seed", "0", "--out", str(out), "-q",
            "--max-concurrent", "1"]
    assert main(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    table = pd.read_parquet(out)
    # one row per configuration x epoch, each epoch of each configuration once, in order
    assert sorted(table["config_id"].unique()) == [0, 1, 2]
    assert table.groupby("config_id")["epoch"].apply(list).tolist() == [[1, 2, 3]] * 3
    # every row's value is its configuration's curve at that epoch: the table holds what the trial reported
    score = _score()
    for _, row in table.iterrows():
        config = {"level": row["config/level"], "optimizer": row["config/optimizer"]}
        assert row["val_accuracy"] == pytest.approx(score(config, row["epoch"]), abs=1e-9), row
        assert row["val_loss"] == pytest.approx(1.0 - row["val_accuracy"], abs=1e-9)
    configs = table.drop_duplicates("config_id")
    assert configs["config/level"].between(0.1, 0.5).all() and configs["config/level"].nunique() == 3
    assert set(configs["config/seed"]) == {0}  # --seed seeds every trial too
    # the sweep behind it: in TABLE.sweep/, one FIFO trial per configuration, all finished, none stopped early
    exp = load_experiment(tmp_path / "t.sweep")
    assert set(exp.trials["trial_id"]) == set(table["trial_id"])
    assert set(exp.trials["status"]) == {"TERMINATED"} and list(exp.trials["epochs"]) == [3, 3, 3]
    assert exp.counts()["stopped_early"] == 0

    # a second recording into the same place is refused before anything runs: --resume finishes one
    before = out.read_bytes()
    assert main(args) == 2
    assert "holds an earlier recording: pass --resume to finish it" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["record", str(tmp_path / "space.yaml"), "--configs", "0", "--out", str(tmp_path / "u.parquet")]) == 2
    assert "--configs must be at least 1, got 0" in capsys.readouterr().err
