"""`hwk4tune demo --quick`: every step of the demo at a smoke test's budget, and every file it promises.

Run in-process through the CLI's `main` on the session's Ray (the demo joins a running Ray as it joins
`--address`): the same verb, without a second Python and a Ray of its own to start and stop."""

from __future__ import annotations

import json

import pytest
import yaml

from hwk4tune.cli import main

STRATEGIES = ("random+fifo", "random+asha", "optuna+asha", "hyperopt+hyperband", "random+pbt")


@pytest.mark.slow
def test_quick_demo_writes_every_file_it_promises(ray_local, tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--quick", "--out", str(out)])
    done = capsys.readouterr()
    assert code == 0, done.out[-2000:] + done.err[-3000:]
    # the comparison: its file, tables, plots, report and one experiment per strategy and seed
    assert yaml.safe_load((out / "demo.yaml").read_text())["seeds"] == [0]
    for name in ("comparison.md", "comparison.csv", "runs.csv", "anytime_epochs.png", "anytime_wall.png",
                 "report.html", "comparison.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for strategy in STRATEGIES:
        assert strategy in (out / "comparison.md").read_text()
    assert len(list(out.glob("runs/*/hwk4tune.json"))) == len(STRATEGIES)
    # the overall best, and it trained for real
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["trainable"] == "cnn" and best["config"]
    metrics = json.loads((out / "best_model" / "metrics.json").read_text())
    assert 0.0 < metrics["test_accuracy"] <= 1.0
    assert (out / "best_model" / "model.pt").is_file() and (out / "best_model" / "config.yaml").is_file()
    assert f"test accuracy of the best config: {metrics['test_accuracy']:.4f}" in done.out
    # the replayed comparison, two seeds of each strategy
    replay = out / "replay"
    assert (replay / "comparison.md").is_file() and (replay / "runs.csv").is_file()
    assert len(list(replay.glob("runs/*/hwk4tune.json"))) == 2 * len(STRATEGIES)
    assert "replay speed:" in done.out
