"""What a comparison decides: per strategy the final best with its 95 % interval, the probability that one
strategy ends better than another (a matrix with intervals), the cost of each to reach the reference's median
final best, and one-line verdicts stated only where the intervals support them.

The reference is ``random+fifo`` when the comparison has it, else its first strategy. Costs are epochs
consumed and seconds (simulated seconds for a replayed comparison, wall seconds for a live one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hwk4tune.compare.comparison import Comparison
from hwk4tune.compare.statistics import (
    MIN_SEEDS,
    bootstrap_ci,
    censored,
    estimate_text,
    first_reach,
    iqm,
    prob_better_ci,
    ratio_ci,
    seeds_per_strategy,
    seeds_text,
    verdicts,
)

REFERENCE = "random+fifo"


@dataclass
class Decision:
    reference: str
    target: float  # the reference's median final best
    seeds: int
    finals: pd.DataFrame  # per strategy: mean, ci_low, ci_high, iqm
    prob: pd.DataFrame  # P(row ends better than column)
    prob_text: pd.DataFrame  # "p (lo–hi)", or "p" where the interval has no width
    costs: pd.DataFrame  # per strategy and kind: ratio to the reference and its interval, share reached
    verdicts: list[str] = field(default_factory=list)
    winner: str = ""
    winner_line: str = ""


def seconds_kind(c: Comparison) -> str:
    return "simulated seconds" if c.replayed else "wall seconds"


def decide(c: Comparison) -> Decision:
    strategies = c.strategies
    reference = REFERENCE if REFERENCE in strategies else strategies[0]
    finals = {s: c.runs.loc[c.runs["strategy"] == s, "final_best"].to_numpy(float) for s in strategies}
    ref_finals = finals[reference][np.isfinite(finals[reference])]
    target = float(np.median(ref_finals)) if ref_finals.size else float("nan")
    rows = []
    for s in strategies:
        lo, hi = bootstrap_ci(finals[s])
        x = finals[s][np.isfinite(finals[s])]
        rows.append({"strategy": s, "seeds": int(x.size), "mean": float(x.mean()) if x.size else float("nan"),
                     "ci_low": lo, "ci_high": hi, "iqm": iqm(x)})
    final_table = pd.DataFrame(rows)

    prob = pd.DataFrame(index=strategies, columns=strategies, dtype=float)
    text = pd.DataFrame(index=strategies, columns=strategies, dtype=object)
    for a in strategies:
        for b in strategies:
            if a == b:
                text.loc[a, b] = "—"
                continue
            p, lo, hi = prob_better_ci(finals[a], finals[b], c.mode)
            prob.loc[a, b] = p
            text.loc[a, b] = estimate_text(p, lo, hi)

    kind_s = seconds_kind(c)
    costs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for s in strategies:
        reach_e, used_e, reach_s, used_s = [], [], [], []
        for seed in c.seeds:
            exp = c.experiments.get((s, seed))
            if exp is None:
                continue
            curve = exp.curve()
            e, sec = first_reach(curve, target, c.mode)
            reach_e.append(e)
            reach_s.append(sec)
            used_e.append(float(curve["epochs"].max()) if len(curve) else np.nan)
            used_s.append(float(curve["elapsed_s"].max()) if len(curve) else np.nan)
        costs[s] = {"epochs": (np.array(reach_e), np.array(used_e)), kind_s: (np.array(reach_s), np.array(used_s))}
    cost_rows = []
    for s in strategies:
        for kind, (reach, used) in costs[s].items():
            r, lo, hi = ratio_ci(censored(reach, used), censored(*costs[reference][kind]))
            cost_rows.append({"strategy": s, "cost": kind, "mean to target": float(np.nanmean(reach))
                              if np.isfinite(reach).any() else float("nan"),
                              "reached": f"{int(np.isfinite(reach).sum())}/{len(reach)}",
                              "ratio to reference": r, "ci_low": lo, "ci_high": hi})
    lines = verdicts(finals, costs, reference, c.mode, target, unit={"epochs": "epochs", kind_s: kind_s})

    ordered = final_table.sort_values("mean", ascending=(c.mode == "min"), kind="mergesort")
    winner = str(ordered.iloc[0]["strategy"]) if len(ordered) else ""
    winner_line = _winner_line(winner, ordered, finals, c.mode)
    return Decision(reference, target, len(c.seeds), final_table, prob, text, pd.DataFrame(cost_rows), lines,
                    winner, winner_line)


def _winner_line(winner: str, ordered: pd.DataFrame, finals: dict[str, np.ndarray], mode: str) -> str:
    """The strategy with the best mean final best, and what the statistics say of it. The same rule as the
    verdicts (:func:`~hwk4tune.compare.statistics.verdicts`): below ``MIN_SEEDS`` seeds per strategy it states
    the means only, never a significance (at one seed every bootstrap interval is a single value, so any
    difference at all looked "significant")."""
    others = [b for b in finals if b != winner]
    n = seeds_per_strategy(finals)
    if not others:
        return f"winner: {winner} (the only strategy)"
    if n < MIN_SEEDS:
        means = "; ".join(f"{r.strategy} {r.mean:.4f}" for r in ordered.itertuples())
        return (f"winner: {winner} by mean final best ({means}); {seeds_text(n)} per strategy is too few to "
                f"tell whether it ends better than the others (that needs at least {MIN_SEEDS})")
    beaten = [b for b in others if prob_better_ci(finals[winner], finals[b], mode)[1] > 0.5]
    if len(beaten) == len(others):
        return f"winner: {winner} (best mean final best; ends better than every other strategy, 95 % CI)"
    if beaten:
        return (f"winner: {winner} (best mean final best; significantly better than {', '.join(beaten)}; "
                f"not than {', '.join(b for b in others if b not in beaten)} at {seeds_text(n)})")
    return (f"winner: {winner} by mean final best, but not significantly better than any other "
            f"strategy at {seeds_text(n)}")
