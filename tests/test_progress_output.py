"""The sweep's progress table (hwk4tune.tune.progress) can never end a sweep: real sweeps run with the default
output on, as `hwk4tune run` runs them, through the two cases where Ray's own reporter raised (a `stop: target`
ending the sweep before some trials reported; a conditional space whose best trial lacks an inactive
parameter), and the reporter given real Tune trials in awkward states."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from hwk4tune.cli import main

pytestmark = pytest.mark.newest  # Ray's reporter internals move between releases: in the newest-versions subset

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 300}
max_epochs: %(epochs)d
space:
%(space)s  hidden: 32
  batch_size: 32
"""


def _run(tmp_path: Path, space: str, sweep: str, capfd, epochs: int = 1) -> tuple[int, str, Path]:
    """`hwk4tune run` (default output) of a digits sweep; (exit code, stdout+stderr, experiment folder)."""
    (tmp_path / "space.yaml").write_text(SPACE % {"epochs": epochs, "space": textwrap.indent(textwrap.dedent(space), "  ")})
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\n" + textwrap.dedent(sweep))
    code = main(["run", str(tmp_path / "sweep.yaml"), "--storage", str(tmp_path / "runs"), "--name", "exp"])
    out, err = capfd.readouterr()
    return code, out + err, tmp_path / "runs" / "exp"


def _configs(exp: Path) -> list[dict]:
    return [json.loads((d / "params.json").read_text()) for d in sorted(exp.glob("trial_*"))]


def test_target_ending_the_sweep_prints_the_table(ray_local, tmp_path, capfd):
    # 3 trials of 2 CPUs each on the session's 2: one runs and reaches the target at its first epoch, ending
    # the sweep, while the others wait; they end TERMINATED without ever reporting val_accuracy (Ray's sort of
    # the terminated trials by it raised TypeError)
    # a small lr and a fixed seed: a trial that diverges reports val_accuracy 0 and never reaches the target
    # (with Adam at lr 1e-2..5e-2 and seeds from random trial ids, all three diverged once in CI)
    code, out, exp = _run(tmp_path, "lr: {loguniform: [1.0e-3, 3.0e-3]}\nseed: 0\n", """\
        searcher: {name: random, seed: 1}
        num_samples: 3
        resources_per_trial: {cpu: 2}
        stop: {target: {value: 0.01}}
        """, capfd, epochs=2)
    assert code == 0, out
    assert json.loads((exp / "stopping.json").read_text())["ended"] == "target", out
    assert "Traceback" not in out and "TypeError" not in out, out
    # the final table: Ray's own (the known cause avoided, no fallback), every trial in it
    assert "Number of trials: 3/3 (3 TERMINATED)" in out and "reporter failed" not in out, out
    assert "Current best trial" in out and out.count("TERMINATED |") >= 3, out


def test_conditional_space_under_random_prints_the_table(ray_local, tmp_path, capfd):
    # momentum only with sgd: with this seed no trial draws sgd, so the best trial never holds momentum
    # (Ray's "Current best trial" line looked it up without a default: KeyError)
    code, out, exp = _run(tmp_path, """\
        optimizer: {choice: [adam, sgd]}
        lr: {loguniform: [1.0e-3, 1.0e-2]}
        momentum: {uniform: [0.5, 0.9], when: {optimizer: sgd}}
        """, """\
        searcher: {name: random, seed: 11}
        num_samples: 2
        max_concurrent_trials: 2
        """, capfd)
    assert code == 0, out
    assert [c.get("optimizer") for c in _configs(exp)] == ["adam", "adam"]  # the case this test is about
    assert not any("momentum" in c for c in _configs(exp))
    assert "Traceback" not in out and "KeyError" not in out, out
    assert "Number of trials: 2/2 (2 TERMINATED)" in out and "reporter failed" not in out, out
    assert "Current best trial" in out and "'momentum': None" in out, out  # inactive: absent from the config


def _trials(tmp: Path) -> list:
    """Real Tune trials in the states Ray's reporter fails on: terminated without the metric, an errored one
    with no result at all, and the best one lacking a parameter column (an inactive conditional one)."""
    from ray.train._internal.storage import StorageContext  # private: Tune gives each trial one (its folder)
    from ray.tune.experiment import Trial

    storage = StorageContext(storage_path=str(tmp), experiment_dir_name="exp")

    def trial(status: str, config: dict, result: dict | None) -> Trial:
        t = Trial("train", config=config, stub=True, storage=storage)
        t.init_local_path()  # its folder, as Tune's controller makes it
        t.set_status(status)
        if result is not None:
            t.update_last_result({**result, "config": config})
        return t

    return [
        trial(Trial.TERMINATED, {"optimizer": "adam", "lr": 0.01}, {"val_accuracy": 0.9, "epoch": 2}),
        trial(Trial.TERMINATED, {"optimizer": "sgd", "lr": 0.1, "momentum": 0.8}, {"epoch": 1}),
        trial(Trial.TERMINATED, {"optimizer": "sgd", "lr": 0.2, "momentum": 0.5}, None),
        trial(Trial.ERROR, {"optimizer": "adam"}, None),
        trial(Trial.RUNNING, {"optimizer": "sgd", "lr": 0.3, "momentum": 0.6},
              {"val_accuracy": float("nan"), "epoch": 1}),
    ]


def test_reporter_prints_awkward_trials(ray_local, tmp_path, capsys, monkeypatch):
    from ray.tune import CLIReporter
    from ray.tune.utils.log import Verbosity

    from hwk4tune.tune.progress import SweepReporter

    columns = dict(metric_columns=["val_accuracy", "epoch"], parameter_columns=["optimizer", "lr", "momentum"],
                   print_intermediate_tables=True)
    trials = _trials(tmp_path)
    # Tune's verbosity (a global) as a sweep with the default output sets it: the table is printed
    monkeypatch.setattr(sys.modules["ray.tune.utils.log"], "verbosity", Verbosity.V1_EXPERIMENT)
    # what Ray's own reporter does with them: each of the two causes alone
    for params, sort, error in ((["optimizer", "lr"], True, TypeError), (columns["parameter_columns"], False, KeyError)):
        ray_own = CLIReporter(**{**columns, "parameter_columns": params}, sort_by_metric=sort)
        ray_own.set_search_properties("val_accuracy", "max")
        with pytest.raises(error):
            ray_own.report(trials, done=True)
    capsys.readouterr()

    reporter = SweepReporter(**columns, sort_by_metric=True)
    reporter.set_search_properties("val_accuracy", "max")
    reporter.report(trials, done=True)
    out = capsys.readouterr().out
    assert "Current best trial: %s with val_accuracy=0.9" % trials[0].trial_id in out, out
    assert out.index(trials[0].trial_id, out.index("TERMINATED")) < out.index(trials[1].trial_id), out  # best first
    for t in trials:
        assert str(t) in out

    class Broken(SweepReporter):  # any other failure inside Ray's report: one line, once, then a plain table
        def _progress_str(self, *args, **kwargs):
            raise ValueError("boom")

    broken = Broken(**columns, sort_by_metric=True)
    broken.set_search_properties("val_accuracy", "max")
    broken.report(trials, done=False)
    broken.report(trials, done=True)
    out = capsys.readouterr().out
    assert out.count("progress table: Ray's reporter failed (ValueError: boom); showing a plain table") == 1, out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}  # trial id -> its rows
    assert rows["trial"].split() == ["trial", "status", "parameters", "val_accuracy", "epoch"], out
    assert "lr=0.01" in rows[trials[0].trial_id] and "momentum" not in rows[trials[0].trial_id], out
    assert "momentum=0.8" in rows[trials[1].trial_id] and "ERROR" in rows[trials[3].trial_id], out
    assert all(t.trial_id in rows for t in trials)
