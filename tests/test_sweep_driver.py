"""The sweep driver (:mod:`hwk4tune.sweep.driver`) leaves the process as it found it: the environment, the
SIGINT and SIGUSR1 handlers; and the end-of-sweep summary reads the folder as `table` does."""

from __future__ import annotations

import os
import signal

from hwk4tune.spec import load_sweep
from hwk4tune.sweep import run_sweep
from hwk4tune.tune.ray_setup import environ_defaults

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 200}
max_epochs: 1
space:
  lr: {loguniform: [1.0e-3, 0.1]}
  hidden: 16
  batch_size: 32
"""
SWEEP = "space: space.yaml\nsearcher: {name: random, seed: 0}\nnum_samples: 2\nmax_concurrent_trials: 1\n"


def _handlers() -> dict:
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGUSR1)}


def test_a_sweep_leaves_environment_and_signal_handlers_as_they_were(ray_local, tmp_path, capsys):
    import sklearn  # noqa: F401 - its first import sets KMP_* variables for good: not the sweep's doing

    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    env, handlers = dict(os.environ), _handlers()
    exp = run_sweep(load_sweep(tmp_path / "sweep.yaml"), storage=str(tmp_path / "runs"), name="e")
    assert dict(os.environ) == env
    assert _handlers() == handlers
    out = capsys.readouterr().out
    assert "2 trials planned: 2 finished, 0 errors" in out and f"experiment  {exp}" in out, out[-3000:]
    assert "scheduler fifo: stops no trial" in out and "top 5 by best val_accuracy" in out


def test_environ_defaults_undo_what_the_block_changed(monkeypatch):
    """The user's own value wins and stays; what the block added or changed, by us or by Ray, is undone."""
    monkeypatch.setenv("HWK4TUNE_TEST_KEPT", "user")
    monkeypatch.delenv("HWK4TUNE_TEST_ADDED", raising=False)
    monkeypatch.delenv("HWK4TUNE_TEST_BY_RAY", raising=False)
    before = dict(os.environ)
    with environ_defaults(HWK4TUNE_TEST_KEPT="ours", HWK4TUNE_TEST_ADDED="1"):
        assert os.environ["HWK4TUNE_TEST_KEPT"] == "user" and os.environ["HWK4TUNE_TEST_ADDED"] == "1"
        os.environ["HWK4TUNE_TEST_BY_RAY"] = "x"  # what ray.init does to PYTHONBREAKPOINT
        os.environ["HWK4TUNE_TEST_KEPT"] = "changed"
    assert dict(os.environ) == before
