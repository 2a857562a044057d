"""Budgets a scheduler cannot use, flagged before the sweep (validate prints them, --strict refuses them);
numbers as people write them; messages that lead to the fix. No Ray: spec loading only."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwk4tune.cli import main
from hwk4tune.spec import SpecError, load_sweep, parse_overrides
from hwk4tune.spec.budgets import asha_rungs, hyperband_brackets, hyperband_fill
from hwk4tune.spec.notices import notices_of
from hwk4tune.tune.search_space import tune_domain

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 200}
max_epochs: 2
space:
  lr: {loguniform: [1e-4, 0.3]}
  weight_decay: {uniform: [1E-5, 5e-3]}
  hidden: {choice: [64]}
  batch_size: 32
"""


def _sweep(tmp_path: Path, scheduler: str, extra: str = "num_samples: 4\n") -> Path:
    (tmp_path / "sp.yaml").write_text(SPACE)
    path = tmp_path / "sw.yaml"
    path.write_text(f"space: sp.yaml\nsearcher: random\nscheduler: {scheduler}\n{extra}")
    return path


def test_brackets_and_rungs_as_ray_computes_them():
    # max_t=4, eta=3: two brackets; bracket 0 takes 2 trials and first pauses at 4, bracket 1 3 trials at 1
    assert [(b.s, b.trials, b.milestones) for b in hyperband_brackets(4, 3)] == [(0, 2, (4,)), (1, 3, (1, 3))]
    # max_t=6: bracket 2's first milestone int(6/9) = 0 is skipped, as Ray skips it
    assert [(b.trials, b.milestones) for b in hyperband_brackets(6, 3)] == [(3, (6,)), (5, (2, 6))]
    assert [(b.s, n) for b, n in hyperband_fill(4, 3, 12)] == [(0, 6), (1, 6)]
    assert asha_rungs(4, 1, 3) == [(1, 3)] and asha_rungs(4, 2, 3) == [(2,)] and asha_rungs(2, 2, 3) == [(2,)]


NOTICES = {
    "hyperband": ("{name: hyperband, reduction_factor: 3}", "num_samples: 4\n",
                  "hyperband stops no trial early: with max_epochs=2, reduction_factor=3 and 4 trials, Ray's "
                  "brackets get [bracket 0: 4 trial(s), milestones [2]]: every first milestone is max_epochs; "
                  "raise max_epochs to at least 3, lower reduction_factor (to 2), or use asha"),
    "hyperband_few_trials": ("{name: hyperband, reduction_factor: 3}", "num_samples: 3\n",
                             "hyperband stops no trial early: with max_epochs=9, reduction_factor=3 and 3 trials, "
                             "Ray's brackets get [bracket 0: 3 trial(s), milestones [9]]: every first milestone is "
                             "max_epochs; raise num_samples above 3 so trials reach bracket 1 (first milestone 3), "
                             "or use asha"),
    "asha": ("{name: asha, grace_period: 2, reduction_factor: 3}", "num_samples: 4\n",
             "asha stops no trial early: with max_epochs=2, grace_period=2, reduction_factor=3 its rungs are at "
             "epoch(s) [bracket 0: 2], none below max_epochs: set grace_period below 2 (e.g. grace_period: 1)"),
    "median": ("{name: median, min_samples_required: 3}", "num_samples: 3\n",
               "median stops no trial early: it compares a trial with at least min_samples_required=3 others, but "
               "the sweep has 3 trial(s): raise num_samples above 3 or lower min_samples_required to 2"),
    "median_grace": ("{name: median, grace_period: 2}", "num_samples: 8\n",
                     "median stops no trial early: grace_period=2 >= max_epochs=2: set grace_period below 2"),
    "pbt_interval": ("{name: pbt, perturbation_interval: 2, hyperparam_mutations: {lr: {loguniform: [1e-4, 0.1]}}}",
                     "num_samples: 4\n",
                     "pbt perturbs no trial: perturbation_interval=2 but trials last max_epochs=2, so it never "
                     "fires before they end: set perturbation_interval below 2 (e.g. 1)"),
    "pbt_population": ("{name: pbt, perturbation_interval: 1, hyperparam_mutations: {lr: {loguniform: [1e-4, 0.1]}}}",
                       "num_samples: 4\nmax_concurrent_trials: 1\n",
                       "pbt perturbs no trial: it clones trials that run at the same time, but at most 1 runs at "
                       "once (num_samples=4, max_concurrent_trials=1): run at least 2 (4 or more is better) at the "
                       "same time"),
}


@pytest.mark.parametrize("case", sorted(NOTICES))
def test_each_useless_budget_is_a_notice_with_numbers_and_fix(case, tmp_path):
    scheduler, extra, text = NOTICES[case]
    overrides = parse_overrides(["max_epochs=9"]) if case == "hyperband_few_trials" else None
    spec = load_sweep(_sweep(tmp_path, scheduler, extra), overrides)
    assert text in notices_of(spec)


def test_a_useful_budget_has_no_scheduler_notice(tmp_path):
    spec = load_sweep(_sweep(tmp_path, "{name: hyperband, reduction_factor: 3}", "num_samples: 8\n"),
                      parse_overrides(["max_epochs=4"]))
    assert not [n for n in notices_of(spec) if "hyperband" in n]


def test_validate_prints_notices_and_strict_refuses(tmp_path, capsys):
    path = _sweep(tmp_path, "{name: median, min_samples_required: 3}", "num_samples: 3\n")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "notice: space.hidden: always 64: write `hidden: 64` (a choice of one value makes every trial the same)" in err
    assert "notice: median stops no trial early" in err
    assert main(["validate", "--strict", str(path)]) == 2
    assert f"{path}: error (--strict): median stops no trial early" in capsys.readouterr().err


@pytest.mark.parametrize("written,value", [("1e-4", 1e-4), ("1E-4", 1e-4), ("5e3", 5e3), ("2.5e-2", 0.025)])
def test_numbers_in_every_numeric_position(written, value, tmp_path):
    """A distribution's bounds and step, a constant, a scheduler option, a PBT mutation and --set."""
    (tmp_path / "sp.yaml").write_text(
        f"trainable: cnn\ndataset: {{name: digits, subset: 200}}\nmax_epochs: 3\nspace:\n"
        f"  lr: {{loguniform: [{written}, 1.0e+4]}}\n  l1: {written}\n"
        f"  weight_decay: {{quniform: [0, 1.0e+4, {written}]}}\n")
    (tmp_path / "sw.yaml").write_text(
        f"space: sp.yaml\nsearcher: random\nnum_samples: 4\n"
        f"scheduler: {{name: pbt, quantile_fraction: 2.5e-1, hyperparam_mutations: {{lr: {{uniform: [{written}, 1.0e+4]}}}}}}\n")
    spec = load_sweep(tmp_path / "sw.yaml")
    assert spec.space.space.params["lr"].low == value and spec.space.space.constants["l1"] == value
    assert spec.space.space.params["weight_decay"].q == value
    assert spec.scheduler.hyperparam_mutations["lr"].low == value and spec.scheduler.quantile_fraction == 0.25
    (tmp_path / "sp.yaml").write_text((tmp_path / "sp.yaml").read_text().replace(f"l1: {written}", "l1: 0.5"))
    spec = load_sweep(tmp_path / "sw.yaml", parse_overrides([f"space.l1={written}"]))
    assert spec.space.space.constants["l1"] == value


def test_text_where_a_number_goes_says_which_value_and_how_to_write_it(tmp_path):
    (tmp_path / "sp.yaml").write_text("trainable: cnn\ndataset: digits\nmax_epochs: 2\n"
                                      "space:\n  lr: {loguniform: [1e-4, tiny]}\n")
    with pytest.raises(SpecError) as exc:
        load_sweep(_sweep_file(tmp_path))
    assert str(exc.value.problems[0]).endswith(
        "space.lr: loguniform takes [low, high] with low > 0, got [0.0001, 'tiny'] (a value was read as text: "
        "write numbers like 1.0e-4, with a dot and a signed exponent)")


def _sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sw.yaml"
    path.write_text("space: sp.yaml\nsearcher: random\nnum_samples: 2\n")
    return path


def test_messages_that_lead_to_the_fix(tmp_path, capsys):
    (tmp_path / "sp.yaml").write_text(SPACE)
    (tmp_path / "sw.yaml").write_text("space: sp.yaml\nsearcher: random\nscheduler: {name: asha, grace: 1}\n")
    assert main(["validate", str(tmp_path / "sw.yaml")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{tmp_path / 'sw.yaml'}:3: scheduler.grace: unknown key; did you mean 'grace_period'? (valid: name, "
        "time_attr, grace_period, reduction_factor, brackets)")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "sw.yaml").write_text("searcher: random\nspace: search_spaces/cnn_digits.yaml\n")
    assert main(["validate", str(tmp_path / "sub" / "sw.yaml")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{tmp_path / 'sub' / 'sw.yaml'}:2: space: no such file 'search_spaces/cnn_digits.yaml' (resolved to "
        f"{(tmp_path / 'sub' / 'search_spaces' / 'cnn_digits.yaml').resolve()}; paths are relative to the folder "
        f"of {tmp_path / 'sub' / 'sw.yaml'})")


def test_params_lists_a_trainables_hyperparameters(capsys):
    assert main(["params", "cnn"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["name", "type", "default", "bounds", "description"]
    row = next(line for line in out if line.startswith("momentum "))
    assert row.split()[:5] == ["momentum", "float", "0.9", ">=", "0,"] and "momentum of the" in row
    peaked = Path(__file__).parent / "data" / "peaked" / "peaked.py"
    assert main(["params", f"{peaked}:train"]) == 0
    assert "curve  int         0        >= 0, <= 2  which of the known learning curves" in capsys.readouterr().out


def test_top_level_help_keeps_whole_sentences(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ("resume Finish an interrupted sweep from its experiment folder: unfinished and errored trials go on "
            "from their last checkpoint; finished ones are kept and never run again.") in text


def test_a_range_with_low_equal_high_is_a_notice_and_draws_its_value(tmp_path, capsys):
    """``uniform: [0.01, 0.01]`` (or an integer / stepped range) is legal: it draws one value, like a one-value
    choice, so validate says to write the constant; Tune gets a one-value choice; the YAML round-trips."""
    from hwk4tune.space import Param

    (tmp_path / "sp.yaml").write_text(SPACE.replace("lr: {loguniform: [1e-4, 0.3]}", "lr: {uniform: [0.01, 0.01]}")
                                      .replace("batch_size: 32", "batch_size: {qrandint: [32, 32, 8]}"))
    path = tmp_path / "sw.yaml"
    path.write_text("space: sp.yaml\nsearcher: random\nnum_samples: 2\n")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert ("notice: space.lr: always 0.01: write `lr: 0.01` "
            "(a uniform range with low == high makes every trial the same)") in err
    assert ("notice: space.batch_size: always 32: write `batch_size: 32` "
            "(a qrandint range with low == high makes every trial the same)") in err
    param = Param.parse("lr", "loguniform", [0.1, 0.1])
    assert tune_domain(param).sample() == 0.1 and param.contains(0.1) and not param.contains(0.2)
    assert param.to_yaml() == {"loguniform": [0.1, 0.1]}
