"""The statistics that decide, on constructed inputs with known answers (no Ray)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from hwk4tune.compare.statistics import bootstrap_ci, censored, prob_better, prob_better_ci, ratio_ci, verdicts
from hwk4tune.replay import simulate


def test_a_strategy_that_always_wins_has_probability_one():
    a, b = np.array([0.9, 0.91, 0.92, 0.95]), np.array([0.5, 0.6, 0.7, 0.8])
    assert prob_better(a, b) == 1.0 and prob_better(b, a) == 0.0
    assert prob_better_ci(a, b) == (1.0, 1.0, 1.0)
    assert prob_better(a, b, mode="min") == 0.0  # for a loss, lower is better


def test_ties_count_one_half():
    assert prob_better([1.0, 2.0], [1.0, 2.0]) == 0.5


def test_bootstrap_interval_holds_the_mean_and_is_repeatable():
    x = np.arange(20, dtype=float)
    lo, hi = bootstrap_ci(x)
    assert lo < x.mean() < hi and (lo, hi) == bootstrap_ci(x)
    assert bootstrap_ci([3.0]) == (3.0, 3.0)


def test_ratio_of_costs():
    r, lo, hi = ratio_ci([10.0] * 5, [40.0] * 5)
    assert (r, lo, hi) == (0.25, 0.25, 0.25)
    assert list(censored(np.array([5.0, np.nan]), np.array([9.0, 30.0]))) == [5.0, 30.0]


def _costs(reach, used):
    return {"epochs": (np.asarray(reach, float), np.asarray(used, float))}


def test_identical_strategies_get_no_significant_difference():
    x = np.array([0.80, 0.82, 0.85, 0.83, 0.81, 0.84, 0.86, 0.79, 0.80, 0.82])
    reach = np.array([30.0, 40, 35, 20, 50, 45, 25, 60, 33, 41])
    lines = verdicts({"random+fifo": x, "copy": x.copy()},
                     {"random+fifo": _costs(reach, reach + 10), "copy": _costs(reach, reach + 10)},
                     "random+fifo", "max", float(np.median(x)))
    assert lines == ["copy vs random+fifo: no significant difference at 10 seeds"]


def test_a_winner_gets_its_verdicts():
    ref, win = np.linspace(0.70, 0.75, 10), np.linspace(0.90, 0.95, 10)
    lines = verdicts({"random+fifo": ref, "optuna+asha": win},
                     {"random+fifo": _costs(np.full(10, 40.0), np.full(10, 60.0)),
                      "optuna+asha": _costs(np.full(10, 10.0), np.full(10, 60.0))},
                     "random+fifo", "max", float(np.median(ref)))
    # every resample agrees: the interval is printed as its one value, not as "1.00–1.00"
    assert lines[0] == "optuna+asha ends better than random+fifo with probability 1.00 (95 % CI 1.00)"
    assert lines[1].startswith("optuna+asha reaches random+fifo's median final best (0.725) with 0.25× its epochs "
                               "(95 % CI 0.25; reached in 10/10 seeds)")


def test_simulated_timeline_on_two_slots():
    # trials a (3 epochs of 1 s), b (1 epoch of 5 s), c (2 epochs of 2 s), started in that order on 2 slots:
    # a runs 0-3, b 0-5, c takes the slot a frees at 3 and reports at 5 and 7
    h = pd.DataFrame({"trial_id": ["a", "b", "a", "a", "c", "c"], "elapsed_s": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                      "_order": range(6), "epoch_seconds": [1.0, 5.0, 1.0, 1.0, 2.0, 2.0]})
    assert list(simulate(h, 2)) == [1.0, 5.0, 2.0, 3.0, 5.0, 7.0]
    assert list(simulate(h, None)) == [1.0, 8.0, 2.0, 3.0, 10.0, 12.0]  # one slot when unset


def _comparison(finals: dict[str, list[float]]):
    """A comparison of the given final bests (one value per seed), built without Ray or files: each run's curve
    climbs to its final best over 3 epochs; everything else is read as from a real comparison folder."""
    from types import SimpleNamespace

    from hwk4tune.compare.comparison import Comparison, _analyse

    def run(final: float, seed: int) -> SimpleNamespace:
        curve = pd.DataFrame({"epochs": [1.0, 2.0, 3.0], "elapsed_s": [1.0, 2.0, 3.0],
                              "best": [final - 0.2, final - 0.1, final]})
        trials = pd.DataFrame({"status": ["TERMINATED"], "epochs": [3]})
        return SimpleNamespace(curve=lambda: curve, trials=trials, record=None, path=f"runs/{seed}",
                               counts=lambda: {"stopped_early": 0, "ERROR": 0, "diverged": 0})

    experiments = {(s, seed): run(v, seed) for s, values in finals.items() for seed, v in enumerate(values)}
    budget = {"num_samples": 1, "max_epochs": 3}
    record = SimpleNamespace(name="constructed", runs=[SimpleNamespace(label=s) for s in finals], budget=budget,
                             definition={"budget": budget})
    c = Comparison(out=Path("."), record=record, experiments=experiments,
                   run_records={k: SimpleNamespace(wall_s=3.0) for k in experiments}, metric="val_accuracy",
                   mode="max", target=float("nan"), target_source="")
    _analyse(c, None)
    return c


# "0.9700–0.9700": an interval whose two ends print the same
ZERO_WIDTH = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*–\s*\1(?!\.?\d)")


def test_a_one_seed_comparison_claims_no_significance():
    """Issue 31: at one seed the winner line said "significantly better than ..." right above "no verdicts: 1
    seeds per strategy", with intervals "0.9700–0.9700". One rule now: below the seeds a verdict needs, the
    winner line gives the means only, and an interval of no width prints as its one value."""
    from hwk4tune.compare.render import markdown

    # as in the issue: a tie with one strategy, a lower value for another (which read as "significantly better")
    md = markdown(_comparison({"random+fifo": [0.97], "random+asha": [0.97], "optuna+asha": [0.90]}))
    assert "significant" not in md, md
    assert not ZERO_WIDTH.search(md), ZERO_WIDTH.search(md).group(0)
    winner = next(line for line in md.splitlines() if line.startswith("winner:"))
    assert winner == ("winner: random+fifo by mean final best (random+fifo 0.9700; random+asha 0.9700; optuna+asha "
                      "0.9000); 1 seed per strategy is too few to tell whether it ends better than the others (that "
                      "needs at least 5)")
    assert "no verdicts: 1 seed per strategy; verdicts need at least 5" in md
    assert "| 0.9700 |" in md  # the summary's 95 % CI column: the one value


def test_enough_seeds_still_say_significantly_where_the_intervals_do():
    """At MIN_SEEDS seeds and more the winner line keeps its significance wording, from the same intervals as the
    verdicts; real intervals are still printed as intervals."""
    from hwk4tune.compare.render import markdown
    from hwk4tune.compare.statistics import MIN_SEEDS

    n = MIN_SEEDS + 1
    md = markdown(_comparison({"random+fifo": list(np.linspace(0.80, 0.82, n)),
                               "optuna+asha": list(np.linspace(0.90, 0.92, n)),   # always better than random+fifo
                               "random+asha": list(np.linspace(0.79, 0.93, n))}))  # overlaps optuna+asha
    winner = next(line for line in md.splitlines() if line.startswith("winner:"))
    assert winner == (f"winner: optuna+asha (best mean final best; significantly better than random+fifo; not than "
                      f"random+asha at {n} seeds)")
    assert "optuna+asha ends better than random+fifo with probability 1.00" in md
    assert re.search(r"\| 0\.80\d\d–0\.81\d\d \|", md), md  # random+fifo's interval over 6 seeds
    assert not ZERO_WIDTH.search(md), ZERO_WIDTH.search(md).group(0)
