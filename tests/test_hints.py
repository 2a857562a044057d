"""Every hint names something that works (issue 31): each message that names a flag, a key or a command is
followed here, exactly as written, and does what it says.

- a missing data set is one located line from `validate` (exit 2) and, offline, from `run`/`compare`/`record`
  before Ray starts; its `--data-dir DIR` (and `HWK4TUNE_DATA=DIR`) advice works for each of them, and for
  `resume` when the data moved;
- an unknown key at any depth gets "did you mean" and the valid keys;
- a bad `--set` is reported at the `--set`, not at the file line whose value it replaced;
- the schedulers' and stoppers' notices give a fix that exists (never "grace_period below 1"), and following
  it makes the notice go;
- Tune's `Tuner.restore(...)` advice is hidden where hwk4tune prints `hwk4tune resume DIR`.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwk4tune.cli import main
from hwk4tune.learn.datasets import catalog, cifar, mnist_pkl
from hwk4tune.learn.datasets.safe_pickle import KnownFile, dumps_arrays
from hwk4tune.spec import load_sweep, parse_overrides
from hwk4tune.spec.notices import notices_of

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"(?P<file>/\S+?\.yaml):(?P<line>[1-9]\d*): (?P<key>\S+): (?P<message>\S.*)")
SPACE = "trainable: cnn\ndataset: {name: cifar10, subset: 30}\nmax_epochs: 1\nspace: {lr: 0.01, hidden: 16, batch_size: 16}\n"


@pytest.fixture(autouse=True)
def _no_data_here(tmp_path, monkeypatch):
    """An empty cache, no $HWK4TUNE_DATA, never a download, no Debian Fashion-MNIST."""
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HWK4TUNE_DATA", "")  # empty is unset to the loaders; restored after the test
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")
    monkeypatch.setattr(catalog, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")


def _cifar_folder(root: Path, n_train: int = 8, n_test: int = 6) -> Path:
    """A tiny cifar-10-batches-py/ (as tests/test_datasets.py builds it): five training batches and a test batch."""
    rng = np.random.default_rng(0)
    folder = root / cifar.FOLDER
    folder.mkdir(parents=True)
    for name, n in [*((b, n_train) for b in cifar.TRAIN_BATCHES), (cifar.TEST_BATCH, n_test)]:
        batch = {b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(dumps_arrays(batch))
    return root


def _files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: {name: random, seed: 0}\nnum_samples: 1\n"
                                         "max_concurrent_trials: 1\n")
    return tmp_path / "space.yaml", tmp_path / "sweep.yaml"


def _err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# ------------------------------------------------------------------------------------------ data sets


def test_validate_a_missing_data_set_is_one_located_line_and_exit_2(tmp_path):
    space, sweep = _files(tmp_path)
    for path in (space, sweep):
        proc = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "validate", str(path)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""  # not "ok": it cannot run here
        [line] = proc.stderr.strip().splitlines()
        match = LINE.fullmatch(line)
        assert match and match["file"] == str(space) and match["line"] == "2" and match["key"] == "dataset.name", line
        assert "'cifar10' is not on this machine" in line and str(tmp_path / "cache" / "data") in line
        assert "pass --data-dir DIR" in line and "HWK4TUNE_DATA=DIR" in line


def test_the_data_dir_advice_works_for_validate_and_the_environment(tmp_path, monkeypatch, capsys):
    space, sweep = _files(tmp_path)
    data = _cifar_folder(tmp_path / "DIR")
    assert main(["validate", str(space), str(sweep), "--data-dir", str(data)]) == 0, capsys.readouterr().err
    monkeypatch.setenv("HWK4TUNE_DATA", str(data))
    assert main(["validate", str(space), str(sweep)]) == 0, capsys.readouterr().err
    assert "ok (sweep)" in capsys.readouterr().out


def test_a_relative_data_dir_is_the_current_folders(tmp_path, monkeypatch, capsys):
    space, _ = _files(tmp_path)
    _cifar_folder(tmp_path / "elsewhere" / "DIR")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["validate", str(space), "--data-dir", "DIR"]) == 0, capsys.readouterr().err


def test_an_inline_space_and_a_set_data_set_are_located_too(tmp_path, capsys):
    (tmp_path / "sweep.yaml").write_text("searcher: random\nspace:\n  trainable: cnn\n  dataset: {name: cifar10}\n"
                                         "  max_epochs: 1\n  space: {lr: 0.1}\n")
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith(f"{tmp_path / 'sweep.yaml'}:4: space.dataset.name: data set 'cifar10'"), line
    assert main(["validate", str(ROOT / "launch/random_fifo.yaml"), "--set", "dataset=cifar10"]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith("--set: dataset=cifar10: dataset.name: data set 'cifar10' is not on this machine"), line


def test_mnist_advice_fetch_works(tmp_path, monkeypatch, capsys):
    (tmp_path / "space.yaml").write_text("trainable: cnn\ndataset: mnist\nmax_epochs: 1\nspace: {lr: 0.1}\n")
    assert main(["validate", str(tmp_path / "space.yaml")]) == 2
    [line] = _err_lines(capsys)
    assert "run `hwk4tune data fetch mnist`" in line and "--data-dir DIR" in line, line
    # the command it names, run as written (from a local file: no network here)
    rng = np.random.default_rng(0)
    fake = tmp_path / "mnist.pkl.gz"
    with gzip.open(fake, "wb") as f:
        f.write(dumps_arrays(tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)) for n in (20, 5, 5))))
    blob = fake.read_bytes()
    monkeypatch.setattr(mnist_pkl, "MNIST_PKL", KnownFile("mnist.pkl.gz", len(blob), hashlib.sha256(blob).hexdigest()))
    assert main(["data", "fetch", "mnist", "--from", str(fake)]) == 0, capsys.readouterr().err
    assert main(["validate", str(tmp_path / "space.yaml")]) == 0, capsys.readouterr().err


def test_fashion_mnist_names_debian_and_the_folder(tmp_path, capsys):
    (tmp_path / "space.yaml").write_text("trainable: cnn\ndataset: fashion_mnist\nmax_epochs: 1\nspace: {lr: 0.1}\n")
    assert main(["validate", str(tmp_path / "space.yaml")]) == 2
    [line] = _err_lines(capsys)
    assert str(tmp_path / "no-debian") in line and "apt-get install -y dataset-fashion-mnist" in line, line
    raw = tmp_path / "DIR" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in catalog.IDX_FILES:
        (raw / name).write_bytes(b"")  # presence is what `data list` checks: the names
    assert main(["validate", str(tmp_path / "space.yaml"), "--data-dir", str(tmp_path / "DIR")]) == 0


def test_offline_run_compare_record_refuse_before_ray_and_their_data_dir_works(tmp_path, capsys, ray_local):
    space, sweep = _files(tmp_path)
    (tmp_path / "compare.yaml").write_text("space: space.yaml\nbudget: {num_samples: 1}\nseeds: [0]\n"
                                           "strategies: {rnd: {searcher: random}}\nmax_concurrent_trials: 1\n")
    commands = {
        "run": ["run", str(sweep), "--storage", str(tmp_path / "runs"), "--name", "r", "-q"],
        "compare": ["compare", str(tmp_path / "compare.yaml"), "--out", str(tmp_path / "cmp")],
        "record": ["record", str(space), "--configs", "1", "--out", str(tmp_path / "t.parquet"), "-q"],
    }
    for verb, argv in commands.items():
        assert main(argv) == 2, verb
        [line] = _err_lines(capsys)
        assert LINE.fullmatch(line) and "pass --data-dir DIR" in line, (verb, line)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cmp").exists()  # nothing started
    data = _cifar_folder(tmp_path / "DIR")
    for verb, argv in commands.items():
        assert main([*argv, "--data-dir", str(data)]) == 0, (verb, capsys.readouterr().err[-2000:])
    assert (tmp_path / "t.parquet").is_file() and (tmp_path / "cmp" / "comparison.md").is_file()
    saved = (tmp_path / "runs" / "r" / "sweep.yaml").read_text()
    assert str(data) in saved  # resume reads the folder the sweep ran on


def test_resume_after_the_data_moved_names_data_dir_and_it_works(tmp_path, capsys, ray_local):
    _, sweep = _files(tmp_path)
    data = _cifar_folder(tmp_path / "A")
    exp = tmp_path / "runs" / "r"
    assert main(["run", str(sweep), "--storage", str(tmp_path / "runs"), "--name", "r", "--data-dir", str(data),
                 "-q"]) == 0, capsys.readouterr().err[-2000:]
    capsys.readouterr()
    moved = tmp_path / "B"
    shutil.move(str(data), moved)
    assert main(["resume", str(exp), "-q"]) == 2
    [line] = _err_lines(capsys)
    assert "'cifar10' not found" in line and "--data-dir DIR" in line and str(data) in line, line
    assert main(["resume", str(exp), "--data-dir", str(moved), "-q"]) == 0, capsys.readouterr().err[-2000:]


def test_train_and_evaluate_follow_the_data_dir_advice(tmp_path, capsys):
    best = tmp_path / "best.yaml"
    best.write_text("trainable: cnn\ndataset: {name: cifar10, subset: 12}\nconfig: {hidden: 16, batch_size: 8}\n"
                    "epochs: 1\n")
    assert main(["train", str(best), "--out", str(tmp_path / "out"), "-q"]) == 2
    [line] = _err_lines(capsys)
    assert "pass a folder with --data-dir DIR or set HWK4TUNE_DATA=DIR" in line, line
    data = _cifar_folder(tmp_path / "DIR")
    assert main(["train", str(best), "--out", str(tmp_path / "out"), "-q", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    shutil.move(str(data), tmp_path / "moved")
    assert main(["evaluate", str(tmp_path / "out")]) == 2
    [line] = _err_lines(capsys)
    assert "--data-dir DIR" in line, line
    assert main(["evaluate", str(tmp_path / "out"), "--data-dir", str(tmp_path / "moved")]) == 0


# ------------------------------------------------------------------------------------------ unknown keys

UNKNOWN = {  # the file, the key path reported, its suggestion, the valid keys listed
    "scheduler.eta": ("space: {space}\nsearcher: random\nscheduler: {{name: asha, eta: 3}}\n",
                      "reduction_factor", "name, time_attr, grace_period, reduction_factor, brackets"),
    "num_sample": ("space: {space}\nsearcher: random\nnum_sample: 3\n", "num_samples", "space, searcher, scheduler"),
    "searcher.sed": ("space: {space}\nsearcher: {{name: optuna, sed: 1}}\n", "seed", "name, sampler, seed"),
    "resources_per_trial.cpus": ("space: {space}\nsearcher: random\nresources_per_trial: {{cpus: 1}}\n", "cpu",
                                 "cpu, gpu"),
    "stop.plateau.patiense": ("space: {space}\nsearcher: random\nstop: {{plateau: {{patiense: 2}}}}\n", "patience",
                              "metric, mode, min_delta, patience"),
    "space.dataset.subet": ("searcher: random\nspace: {{trainable: cnn, dataset: {{name: digits, subet: 9}}, "
                            "max_epochs: 1, space: {{lr: 0.1}}}}\n", "subset", "name, subset, data_dir"),
    "strategies.a.sceduler": ("space: {space}\nbudget: {{num_samples: 2}}\nstrategies: {{a: {{searcher: random, "
                              "sceduler: fifo}}}}\n", "scheduler", "searcher, scheduler"),
    "strategies.a.searcher.smpler": ("space: {space}\nbudget: {{num_samples: 2}}\nstrategies: {{a: {{searcher: "
                                     "{{name: optuna, smpler: tpe}}}}}}\n", "sampler", "name, sampler, seed"),
}


@pytest.mark.parametrize("key", sorted(UNKNOWN))
def test_every_unknown_key_at_every_depth_gets_did_you_mean_and_the_valid_keys(key, tmp_path, capsys):
    text, meant, valid = UNKNOWN[key]
    path = tmp_path / "f.yaml"
    path.write_text(text.format(space=ROOT / "search_spaces" / "cnn_digits.yaml"))
    assert main(["validate", str(path)]) == 2
    [line] = _err_lines(capsys)
    assert re.match(rf"{re.escape(str(path))}:\d+: {re.escape(key)}: unknown key; did you mean {meant!r}\? "
                    rf"\(valid: {re.escape(valid)}", line), line


def test_the_suggested_key_is_taken(tmp_path, capsys):
    path = tmp_path / "f.yaml"
    path.write_text(f"space: {ROOT / 'search_spaces' / 'cnn_digits.yaml'}\nsearcher: random\n"
                    "scheduler: {name: asha, reduction_factor: 3}\n")
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


# ------------------------------------------------------------------------------------------ --set

def test_a_bad_set_names_the_set_not_the_file_line(capsys):
    sweep = ROOT / "launch" / "random_fifo.yaml"
    assert main(["validate", str(sweep), "--set", "num_samples=abc"]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith("--set: num_samples=abc: Input should be a valid integer"), line
    assert str(sweep) not in line
    assert main(["validate", str(sweep), "--set", "scheduler={name: asha, eta: 3}"]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith("--set: scheduler={name: asha, eta: 3}: scheduler.eta: unknown key; did you mean "
                           "'reduction_factor'?"), line
    assert main(["validate", str(sweep), "--set", "num_sample=3"]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith("--set: num_sample=3: unknown key; did you mean 'num_samples'?"), line
    assert main(["validate", str(sweep), "--set", "space.lr=abc"]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith("--set: space.lr=abc: 'abc' is not a value trainable 'cnn' takes"), line
    assert main(["validate", str(sweep), "--set", "space.max_epochs=0"]) == 2
    [line] = _err_lines(capsys)
    assert line == "--set: space.max_epochs=0: Input should be greater than 0", line
    # the flags that are --set in other words name themselves
    assert main(["run", str(sweep), "--num-samples", "0", "--storage", "/nonexistent"]) == 2
    [line] = _err_lines(capsys)
    assert line == "--num-samples: 0: Input should be greater than 0", line
    assert main(["validate", str(sweep), "--set", "num_samples=3"]) == 0  # the --set itself works


def test_a_problem_not_caused_by_the_set_stays_on_its_line(tmp_path, capsys):
    (tmp_path / "sw.yaml").write_text(f"space: {ROOT / 'search_spaces' / 'cnn_digits.yaml'}\nsearcher: random\n"
                                      "num_samples: 0\n")
    assert main(["validate", str(tmp_path / "sw.yaml"), "--set", "max_epochs=2"]) == 2
    [line] = _err_lines(capsys)
    assert line.startswith(f"{tmp_path / 'sw.yaml'}:3: num_samples: Input should be greater than 0"), line


# ------------------------------------------------------------------------------------------ notices

SPACE_DIGITS = ("trainable: cnn\ndataset: {{name: digits, subset: 200}}\nmax_epochs: {epochs}\n"
                "space: {{lr: {{loguniform: [1.0e-4, 0.1]}}}}\n{stop}")


def _notices(tmp_path: Path, scheduler: str, epochs: int = 1, extra: str = "num_samples: 4\n", stop: str = "",
             searcher: str = "random", overrides: list[str] | None = None) -> list[str]:
    (tmp_path / "sp.yaml").write_text(SPACE_DIGITS.format(epochs=epochs, stop=stop))
    (tmp_path / "sw.yaml").write_text(f"space: sp.yaml\nsearcher: {searcher}\nscheduler: {scheduler}\n{extra}")
    return notices_of(load_sweep(tmp_path / "sw.yaml", parse_overrides(overrides or [])))


@pytest.mark.parametrize("scheduler, who", [
    ("{name: asha}", "asha stops no trial early"),
    ("{name: hyperband}", "hyperband stops no trial early"),
    ("{name: median}", "median stops no trial early"),
    ("{name: pbt, perturbation_interval: 1}", "pbt perturbs no trial"),
])
def test_one_epoch_notices_give_a_fix_that_exists_and_following_it_works(scheduler, who, tmp_path):
    [notice] = [n for n in _notices(tmp_path, scheduler) if n.startswith(who)]
    assert "below 1" not in notice and "grace_period: 1)" not in notice, notice
    assert "use asha" not in notice and "lower reduction_factor" not in notice, notice
    raise_to = re.search(r"raise max_epochs to at least (\d+)", notice)
    assert raise_to and "or use scheduler: fifo" in notice, notice
    assert not [n for n in _notices(tmp_path, scheduler, overrides=[f"max_epochs={raise_to[1]}"]) if n.startswith(who)]
    assert not [n for n in _notices(tmp_path, "fifo") if "stops no trial" in n or "perturbs no trial" in n]


def test_asha_notice_for_a_grace_period_at_max_epochs_still_reads_as_before(tmp_path):
    [notice] = _notices(tmp_path, "{name: asha, grace_period: 3}", epochs=3)
    assert notice.endswith("set grace_period below 3 (e.g. grace_period: 1)"), notice
    assert _notices(tmp_path, "{name: asha, grace_period: 1}", epochs=3) == []


def test_median_with_one_trial_does_not_offer_zero_others(tmp_path):
    [notice] = _notices(tmp_path, "{name: median}", epochs=4, extra="num_samples: 1\n")
    assert notice.endswith("raise num_samples above 3"), notice
    assert _notices(tmp_path, "{name: median}", epochs=4, extra="num_samples: 4\n") == []


def test_plateau_notice_counts_the_first_epoch_and_its_fix_works(tmp_path):
    stop = "stop: {plateau: {patience: 3}}\n"
    [notice] = _notices(tmp_path, "fifo", epochs=4, stop=stop)
    assert "can never end a trial early" in notice and notice.endswith("set patience to at most 2"), notice
    assert _notices(tmp_path, "fifo", epochs=4, stop="stop: {plateau: {patience: 2}}\n") == []
    [notice] = _notices(tmp_path, "fifo", epochs=2, stop="stop: {plateau: {patience: 1}}\n")
    assert notice.endswith("raise max_epochs to at least 3"), notice
    assert _notices(tmp_path, "fifo", epochs=3, stop="stop: {plateau: {patience: 1}}\n") == []


def test_population_notice_with_two_trials_does_not_suggest_a_population_of_two(tmp_path):
    [notice] = _notices(tmp_path, "fifo", epochs=2, extra="num_samples: 2\n",
                        searcher="{name: nevergrad, optimizer: PSO}")
    assert notice.endswith("(raise num_samples above 40)"), notice
    assert _notices(tmp_path, "fifo", epochs=2, extra="num_samples: 41\n",
                    searcher="{name: nevergrad, optimizer: PSO}") == []


# ------------------------------------------------------------------------------------------ Ray's restore hint

def test_tunes_restore_advice_is_hidden_where_hwk4tune_prints_its_own(capsys):
    from hwk4tune.tune.console import RAY_TUNE_LOGGER, quiet_early_stops

    logger = logging.getLogger(RAY_TUNE_LOGGER)
    handler = logging.StreamHandler(sys.stderr)  # as Ray's own: it holds the stream it was made with
    logger.addHandler(handler)
    try:
        with quiet_early_stops():
            logger.warning("Experiment has been interrupted, but the most recent state was saved.\n"
                           'Resume experiment with: Tuner.restore(path="/x", trainable=...)')
            logger.warning("a warning of Tune's that stays")
            print('Resume experiment with: Tuner.restore(path="/x", trainable=...)', file=sys.stderr)
        logger.warning('Resume experiment with: Tuner.restore(path="/x") outside a sweep')  # not ours to hide
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "a warning of Tune's that stays" in err and "outside a sweep" in err
    assert err.count("Tuner.restore") == 1 and "most recent state" not in err, err
