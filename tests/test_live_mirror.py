"""The Optuna mirror of real sweeps: one Optuna trial per Ray trial, with the state, the value and the
intermediate values Ray's own files record, for searchers and schedulers of every kind; a resumed sweep adds
no trial twice; TensorBoard event files only with ``tensorboard=True``.

The mirror reads what Tune reports, not how it was trained: the trials run the stand-in trainable of
tests/sleeping.py (each config its own curve, a checkpoint each epoch, no torch), so a sweep takes about a
second of trial time and the scheduler's choices are fixed by the seeds."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sleeping import TRAIN

from hwk4tune.live import JOURNAL_FILE, LiveOptions
from hwk4tune.live.mirror import TRIAL_ID_ATTR, open_storage
from hwk4tune.spec import load_sweep

EPOCHS = 2


def write(tmp: Path, searcher: str, scheduler: str, *, trials: int = 4, space_extra: str = "", hidden: str = "32",
          max_failures: int = 0, concurrent: int = 2, epochs: int = EPOCHS, sweep_extra: str = "") -> Path:
    (tmp / "space.yaml").write_text(
        f"trainable: {TRAIN}\nmax_epochs: {epochs}\n"
        "space:\n  optimizer: {choice: [sgd, adam]}\n  lr: {loguniform: [1.0e-3, 0.1]}\n"
        f"  hidden: {hidden}\n  batch_size: 64\n{space_extra}")
    sweep = tmp / "sweep.yaml"
    sweep.write_text(f"space: space.yaml\nsearcher: {searcher}\nscheduler: {scheduler}\nnum_samples: {trials}\n"
                     f"max_concurrent_trials: {concurrent}\nmax_failures: {max_failures}\n{sweep_extra}")
    return sweep


def ray_trials(exp: Path) -> dict[str, dict]:
    """Ray trial id -> its rows, params and whether it errored, from the files Ray wrote."""
    out = {}
    for d in sorted(exp.glob("trial_*")):
        text = (d / "result.json").read_text() if (d / "result.json").exists() else ""
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        out[d.name.removeprefix("trial_")] = {
            "rows": rows, "params": json.loads((d / "params.json").read_text()),
            "error": (d / "error.txt").exists()}
    return out


def study_of(exp: Path):
    import optuna

    return optuna.load_study(study_name=exp.name, storage=open_storage(exp / JOURNAL_FILE))


def check_mirror(exp: Path, metric: str = "val_accuracy", epochs: int = EPOCHS, pbt: bool = False
                 ) -> dict[str, object]:
    """Every Ray trial is one Optuna trial whose state, value, intermediates and params match Ray's files."""
    from optuna.trial import TrialState

    ray = ray_trials(exp)
    study = study_of(exp)
    assert study.metric_names == [metric]
    by_id = {}
    for t in study.trials:
        ray_id = t.user_attrs[TRIAL_ID_ATTR]
        assert ray_id not in by_id, f"{ray_id} mirrored twice"
        by_id[ray_id] = t
    assert set(by_id) == set(ray), (sorted(by_id), sorted(ray))
    for ray_id, r in ray.items():
        t = by_id[ray_id]
        rows = r["rows"]
        first = {}
        for row in rows:
            first.setdefault(row["epoch"], row[metric])
        if pbt:
            # Ray rewrites the result.json of a trial restored from a checkpoint (PBT's exploit), keeping only
            # the rows after it: the mirror has at least those rows' epochs, and the last one equal
            assert rows and t.intermediate_values[rows[-1]["epoch"]] == pytest.approx(rows[-1][metric]), ray_id
            assert list(t.intermediate_values) == sorted(t.intermediate_values)
        else:
            assert t.intermediate_values == pytest.approx(first), ray_id
            start = rows[0]["config"] if rows else r["params"]
            assert t.params["optimizer"] == start["optimizer"] and t.params["lr"] == pytest.approx(start["lr"])
        if r["error"]:
            assert t.state == TrialState.FAIL, ray_id
        elif rows[-1]["epoch"] < epochs:
            assert t.state == TrialState.PRUNED, ray_id
            assert t.value == pytest.approx(rows[-1][metric])
        else:
            assert t.state == TrialState.COMPLETE, ray_id
            assert t.value == pytest.approx(rows[-1][metric])
        assert t.datetime_start < t.datetime_complete
    return by_id


def run(sweep: Path, tmp: Path, name: str, live: LiveOptions | None = None) -> Path:
    from hwk4tune.sweep import run_sweep

    return Path(run_sweep(load_sweep(sweep), storage=str(tmp / "runs"), name=name, verbose=False, live=live))


@pytest.mark.parametrize("searcher, scheduler, label", [
    ("{name: random, seed: 1}", "{name: asha, grace_period: 1, reduction_factor: 2}", "random+asha"),
    ("{name: optuna, seed: 0}", "fifo", "optuna+fifo"),
    ("{name: hyperopt, seed: 0, n_initial_points: 2}", "{name: hyperband, reduction_factor: 2}", "hyperopt+hyperband"),
])
def test_mirror_matches_ray(ray_local, tmp_path, searcher, scheduler, label):
    exp = run(write(tmp_path, searcher, scheduler), tmp_path, "m")
    by_id = check_mirror(exp)
    assert len(by_id) == 4
    study = study_of(exp)
    assert study.user_attrs["strategy"] == label
    assert all(t.user_attrs["strategy"] == label for t in study.trials)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert done and all(Path(t.user_attrs["checkpoint"]).is_dir() for t in done)
    assert not list(exp.glob("trial_*/events.out.tfevents*"))  # TensorBoard is off by default


def test_asha_prunes_and_errors_fail(ray_local, tmp_path):
    """A model of 2**40 hidden units cannot be built (the stand-in raises as the CNN does): those trials end in
    error, FAIL in the study; ASHA stops some of the others."""
    sweep = write(tmp_path, "{name: random, seed: 3}", "{name: asha, grace_period: 1, reduction_factor: 2}",
                  trials=4, hidden="{grid: [32, 1099511627776]}", concurrent=1)
    exp = run(sweep, tmp_path, "asha")
    by_id = check_mirror(exp)
    states = sorted(t.state.name for t in by_id.values())
    assert states.count("FAIL") == 4  # four successful trials: ASHA at rf 2 keeps each later one only if it is
    # in the top half at epoch 1; one at a time, with each config's fixed curve, the seed decides which
    assert "PRUNED" in states
    assert all("error" in t.user_attrs for t in by_id.values() if t.state.name == "FAIL")


@pytest.mark.oldest_ray
def test_pbt_config_changes(ray_local, tmp_path):
    # the whole population at once (half a CPU each), in step (synch), so at every epoch the bottom half has a
    # top trial's checkpoint to clone (asynchronous PBT skipped every exploit in one CI run: "no checkpoint")
    sweep = write(tmp_path, "{name: random, seed: 0}",
                  "{name: pbt, perturbation_interval: 1, quantile_fraction: 0.5, synch: true, seed: 0}", epochs=3,
                  concurrent=4, sweep_extra="resources_per_trial: {cpu: 0.5}\n")
    exp = run(sweep, tmp_path, "pbt")
    by_id = check_mirror(exp, epochs=3, pbt=True)
    changed = 0
    for ray_id, r in ray_trials(exp).items():
        t = by_id[ray_id]
        final = r["rows"][-1]["config"]
        recorded = t.user_attrs.get("config_changes", [])
        now = dict(t.params)  # the config it started with, changed as recorded
        for change in recorded:
            now.update({k: new for k, (old, new) in change["changes"].items() if k in now})
        assert now["optimizer"] == final["optimizer"] and now["lr"] == pytest.approx(final["lr"]), ray_id
        changed += bool(recorded)
    assert changed >= 1, "PBT changed no trial's config: nothing was checked"
    assert (exp / "pbt_global.txt").exists()


def test_tensorboard_kept_when_asked(ray_local, tmp_path):
    sweep = write(tmp_path, "{name: random, seed: 0}", "fifo", trials=1)
    exp = run(sweep, tmp_path, "tb", LiveOptions(tensorboard=True))
    assert list(exp.glob("trial_*/events.out.tfevents*"))
    check_mirror(exp)


def test_resumed_sweep_adds_no_duplicates(ray_local, tmp_path):
    """Ctrl-C (SIGINT) once the first trial is in the study, then resume: every Ray trial once in the study.
    The trials after the first wait (the stand-in's ``hold_others``) until the interrupt has been handled,
    so the Ctrl-C always lands mid-sweep, however slow the machine."""
    from hwk4tune.sweep import resume_sweep

    hold = tmp_path / "hold"
    hold.touch()
    sweep = write(tmp_path, "{name: random, seed: 0}", "fifo", trials=4, concurrent=1,
                  space_extra=f"  hold_others: {hold}\n")
    exp = tmp_path / "runs" / "res"
    stop = threading.Event()

    def interrupt_after_first_trial():
        while not stop.is_set():
            if (exp / JOURNAL_FILE).exists() and any(t.state.is_finished() for t in study_of(exp).trials):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=interrupt_after_first_trial, daemon=True)
    watcher.start()
    try:
        run(sweep, tmp_path, "res")
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        watcher.join()
    before = study_of(exp).trials
    assert 1 <= len(before) < 4 or any(not t.state.is_finished() for t in before)
    hold.unlink()
    resume_sweep(exp, verbose=False)
    by_id = check_mirror(exp)
    assert len(by_id) == 4
    assert len(study_of(exp).trials) == 4
    first = {t.user_attrs[TRIAL_ID_ATTR]: t for t in before if t.state.is_finished()}
    for ray_id, t in first.items():  # what had finished stays as it was
        assert by_id[ray_id].number == t.number and by_id[ray_id].value == t.value


def test_mirror_failure_never_fails_the_sweep(ray_local, tmp_path, capfd):
    """A journal that cannot be written (its path is a folder): the sweep ends normally, one line says so."""
    sweep = write(tmp_path, "{name: random, seed: 0}", "fifo", trials=2)
    bad = tmp_path / "journal-is-a-folder"
    bad.mkdir()
    exp = run(sweep, tmp_path, "broken", LiveOptions(journal=str(bad)))
    err = capfd.readouterr().err
    assert err.count("the Optuna live view") == 1 and "the sweep goes on" in err
    assert len(ray_trials(exp)) == 2 and all(len(r["rows"]) == EPOCHS for r in ray_trials(exp).values())


def test_comparison_writes_one_study_per_run(ray_local, tmp_path):
    import optuna

    from hwk4tune.compare import run_compare
    from hwk4tune.spec import load_compare

    (tmp_path / "space.yaml").write_text(
        f"trainable: {TRAIN}\nmax_epochs: 1\n"
        "space:\n  lr: {loguniform: [1.0e-3, 0.1]}\n  hidden: 32\n")
    (tmp_path / "compare.yaml").write_text(
        "space: space.yaml\nbudget: {num_samples: 2}\nseeds: [0]\nstrategies:\n"
        "  tpe first: {searcher: optuna, scheduler: fifo}\n  random: {searcher: random, scheduler: fifo}\n")
    out = tmp_path / "cmp"
    run_compare(load_compare(tmp_path / "compare.yaml"), out, verbose=False)
    storage = open_storage(out / JOURNAL_FILE)
    names = sorted(optuna.get_all_study_names(storage))
    assert names == sorted(p.name for p in (out / "runs").iterdir() if p.is_dir())
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        assert len(study.trials) == 2 and all(t.state.name == "COMPLETE" for t in study.trials)
        assert study.user_attrs["strategy"] in ("tpe first", "random")
        assert name.startswith(study.user_attrs["strategy"].replace(" ", "_"))
