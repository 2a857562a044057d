"""``stop:`` rules: a plateau ends a trial, a target or a time budget ends the sweep, the budget survives a
resume, and tables say why each trial ended. The trainable (tests/data/stopping/curves.py) has known curves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hwk4tune.spec import SpecError, load_any, load_space, load_sweep

DATA = Path(__file__).parent / "data" / "stopping"
BAD = Path(__file__).parent / "data" / "bad"


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_any(path)
    return [str(p) for p in exc.value.problems]


def test_durations_and_merging():
    from hwk4tune.spec.stopping import StopSpec, parse_duration

    assert [parse_duration(v) for v in ("90s", "20m", "1h", "1h30m", 45, "2.5m")] == [90, 1200, 3600, 5400, 45, 150]
    for bad in ("20 minutes", "-5s", 0, "m", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    space = StopSpec(plateau={"patience": 3}, time_budget="1h")
    merged = space.merged(StopSpec(time_budget="90s", target={"value": 0.9}))
    assert (merged.plateau.patience, merged.time_budget, merged.target.value) == (3, 90, 0.9)


def test_stop_rules_are_located_errors():
    assert _problems(BAD / "stop_target_unreachable.yaml") == [
        f"{BAD / 'stop_target_unreachable.yaml'}:7: stop.plateau.metric: trainable "
        f"'{DATA / 'curves.py'}:train' does not report 'test_accuracy' (it reports: val_accuracy, val_loss, epoch)",
        f"{BAD / 'stop_target_unreachable.yaml'}:6: stop.target.value: val_accuracy lies in [0, 1], so a target "
        "of 1.5 is never reached"]
    assert _problems(BAD / "stop_space_wrong_mode.yaml") == [
        f"{BAD / 'stop_space_wrong_mode.yaml'}:7: stop.target.mode: val_loss is better when lower, but the mode is max"]


def test_plateau_with_pbt_is_a_notice():
    notices = load_sweep(DATA / "pbt_plateau_sweep.yaml").notices()
    assert any("stop.plateau with pbt" in n for n in notices), notices
    assert any("can never end a trial" in n for n in notices), notices


def test_sweep_stop_wins_over_the_space():
    spec = load_sweep(DATA / "target_sweep.yaml")
    assert load_space(DATA / "space.yaml").stop.plateau.patience == 2
    assert spec.stopping.plateau.patience == 8 and spec.stopping.target.value == 0.7


def test_plateau_rule_counts_patience():
    from hwk4tune.spec.stopping import Plateau

    rule, state = Plateau("max", 0.01, 2), {}
    steps = [rule.update(state, v) for v in (0.5, 0.505, 0.52, 0.52, 0.525)]
    assert steps == [(True, False), (False, False), (True, False), (False, False), (False, True)]


def test_time_budget_state_resumes_with_what_is_left():
    from hwk4tune.store.stopping_file import StopState
    from hwk4tune.tune.stoppers import _recorder_class, _stopper_class

    state = StopState(None, max_epochs=5, plateau=None, target=None, time_budget_s=1.0)
    recorder = _recorder_class()(state)
    state.data["spent_s"] = 0.7  # what an earlier run used
    saved = recorder.get_state()
    fresh = StopState(None, max_epochs=5, plateau=None, target=None, time_budget_s=1.0)
    stopper2, recorder2 = _stopper_class()(fresh), _recorder_class()(fresh)
    recorder2.set_state(saved)
    assert not stopper2.stop_all()  # 0.3 s left
    time.sleep(0.4)
    assert stopper2.stop_all() and fresh.data["ended"] == "budget" and fresh.spent() >= 1.0


def _reasons(exp: Path) -> dict[str, list[str]]:
    from hwk4tune.results import load_experiment

    trials = load_experiment(exp).trials
    return {curve: sorted(trials.loc[trials["config/curve"] == curve, "stop_reason"]) for curve in ("flat", "rising")}, trials


def test_plateau_ends_the_flat_trial(ray_local, tmp_path):
    from hwk4tune.sweep import run_sweep

    exp = run_sweep(load_sweep(DATA / "plateau_sweep.yaml"), storage=str(tmp_path), name="p")
    reasons, trials = _reasons(exp)
    assert reasons == {"flat": ["plateau"], "rising": ["finished"]}
    epochs = dict(zip(trials["config/curve"], trials["epochs"]))
    assert epochs == {"flat": 3, "rising": 8}  # best at epoch 1, then 2 epochs without a 0.01 gain
    noted = json.loads((exp / "stopping.json").read_text())
    assert [v["reason"] for v in noted["trials"].values()] == ["plateau"]

    from hwk4tune.model.pictures import STOP_COLOURS
    from hwk4tune.report.page import _learning_curves, write_report
    from hwk4tune.results import load_experiment

    page = write_report(exp, tmp_path / "report.html").read_text()
    assert "<td>plateau</td>" in page and "<td>finished</td>" in page  # the table's stop_reason column
    ax = _learning_curves(load_experiment(exp)).axes[0]  # every trial's curve, coloured by why it stopped
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["finished", "plateau"]
    assert sorted(line.get_color() for line in ax.get_lines()) == sorted([STOP_COLOURS["finished"],
                                                                         STOP_COLOURS["plateau"]])


def test_target_ends_the_sweep(ray_local, tmp_path):
    from hwk4tune.sweep import run_sweep

    exp = run_sweep(load_sweep(DATA / "target_sweep.yaml"), storage=str(tmp_path), name="t")
    noted = json.loads((exp / "stopping.json").read_text())
    assert noted["ended"] == "target"
    reasons, trials = _reasons(exp)
    assert reasons["flat"][0] == "finished" and "target" in reasons["rising"]
    reached = trials.set_index("trial_id").loc[noted["reached_by"]]
    assert (reached["config/curve"], reached["epochs"], reached["stop_reason"]) == ("rising", 7, "target")
    assert trials["epochs"].sum() < 3 * (8 + 8)  # the sweep ended before its 6 trials ran


def test_time_budget_ends_the_sweep_and_survives_resume(ray_local, tmp_path):
    from hwk4tune.sweep import resume_sweep, run_sweep

    spec = load_sweep(DATA / "budget_sweep.yaml", {"space.sleep": 0.5})
    exp = run_sweep(spec, storage=str(tmp_path), name="b")
    noted = json.loads((exp / "stopping.json").read_text())
    assert noted["ended"] == "budget" and noted["spent_s"] >= 8.0
    _, trials = _reasons(exp)
    # one trial at a time, in grid order (flat, rising, flat, ...; a trial id ends with its running count).
    # How many ran depends on the machine's speed; how each ended does not: every trial but the last ended as
    # its curve does (flat: plateau after epoch 3; rising: all 8 epochs), and the last one did so too, or the
    # budget cut it short (budget; not started: no report at all)
    rows = list(trials.sort_values("trial_id")[["config/curve", "stop_reason", "epochs"]].itertuples(index=False))
    assert 1 <= len(rows) < 2 * 20
    assert [r[0] for r in rows] == (["flat", "rising"] * 20)[:len(rows)]
    natural = {"flat": ("plateau", 3), "rising": ("finished", 8)}
    assert all((reason, epochs) == natural[curve] for curve, reason, epochs in rows[:-1]), rows
    curve, reason, epochs = rows[-1]
    assert (reason, epochs) == natural[curve] or (reason in ("budget", "not started")
                                                  and epochs < natural[curve][1]), rows
    # each epoch sleeps 0.5 s, all inside the budget's count
    assert 0.5 * sum(r[2] for r in rows) <= noted["spent_s"] + 0.5
    reports = _reports(exp)

    resume_sweep(exp, verbose=False)  # nothing is left of the budget: no trial trains again
    after = json.loads((exp / "stopping.json").read_text())
    assert after["ended"] == "budget" and after["spent_s"] >= noted["spent_s"]
    assert _reports(exp) == reports


def _reports(exp: Path) -> int:
    return sum(len((d / "result.json").read_text().splitlines()) for d in exp.glob("trial_*")
               if (d / "result.json").is_file())
