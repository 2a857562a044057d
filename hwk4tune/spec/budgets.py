"""What a scheduler can do with a budget, computed as Ray Tune 2.60 computes it (no Ray import): HyperBand's
brackets and ASHA's rungs for ``max_t = max_epochs``. The scheduler models (:mod:`hwk4tune.spec.strategies`)
turn these numbers into notices ("stops no trial: ..., use ...").

A milestone at ``max_epochs`` stops nothing: the trial ends there anyway. A scheduler "can stop" a trial only
at a milestone below ``max_epochs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bracket:
    """One HyperBand bracket: ``trials`` it takes (Ray's n0), its milestones (r0, r0*eta, ... up to max_t)."""

    s: int
    trials: int
    milestones: tuple[int, ...]

    def stops_early(self, max_t: int) -> bool:
        return bool(self.milestones) and self.milestones[0] < max_t


def hyperband_brackets(max_t: int, eta: float) -> list[Bracket]:
    """Ray's ``HyperBandScheduler`` (``hyperband.py``): ``s_max_1 = round(log(max_t)/log(eta)) + 1`` brackets
    per band; bracket ``s`` takes ``ceil(s_max_1/(s+1) * eta**s)`` trials and first pauses at
    ``int(max_t * eta**-s)`` epochs (a bracket whose first milestone is 0 is skipped)."""
    s_max_1 = int(round(math.log(max_t) / math.log(eta))) + 1
    out = []
    for s in range(s_max_1):
        r0 = int(max_t * eta ** (-s))
        if r0 == 0:
            continue
        milestones, r = [r0], r0
        for _ in range(s):
            r = int(min(r * eta, max_t))
            milestones.append(r)
        out.append(Bracket(s, int(math.ceil(s_max_1 / (s + 1) * eta ** s)), tuple(milestones)))
    return out


def hyperband_fill(max_t: int, eta: float, num_samples: int) -> list[tuple[Bracket, int]]:
    """Which brackets the sweep's trials land in, in Ray's order (bracket 0 first, a band at a time):
    (bracket, trials in it) for every bracket that gets at least one."""
    brackets = hyperband_brackets(max_t, eta)
    filled: dict[int, int] = {}
    left = num_samples
    while left > 0:
        for b in brackets:
            take = min(b.trials, left)
            filled[b.s] = filled.get(b.s, 0) + take
            left -= take
            if left == 0:
                break
    return [(b, filled[b.s]) for b in brackets if filled.get(b.s)]


def asha_rungs(max_t: int, grace_period: int, rf: float, brackets: int = 1) -> list[tuple[int, ...]]:
    """Ray's ``AsyncHyperBandScheduler`` (``async_hyperband.py``): bracket ``s`` has
    ``int(log(max_t/grace)/log(rf) - s + 1)`` rungs at ``grace * rf**(k+s)`` epochs; ascending here."""
    out = []
    for s in range(brackets):
        n = int(math.log(max_t / grace_period) / math.log(rf) - s + 1)
        out.append(tuple(grace_period * rf ** (k + s) for k in range(max(n, 0))))
    return out


def _num(x: float) -> str:
    return f"{x:g}"


def one_epoch_fix(first: int = 1) -> str:
    """The fix where ``max_epochs=1``: no epoch comes before a trial's last, so no scheduler can act early."""
    return (f"with max_epochs=1 a trial has no epoch before its last: raise max_epochs to at least {first + 1}, "
            "or use scheduler: fifo")


def asha_notice(max_t: int, grace_period: int, rf: float, brackets: int) -> str | None:
    """A notice when no rung of any bracket lies below max_epochs (ASHA stops no trial)."""
    rungs = asha_rungs(max_t, grace_period, rf, brackets)
    if any(m < max_t for r in rungs for m in r):
        return None
    shown = "; ".join(f"bracket {s}: {', '.join(_num(m) for m in r) or 'none'}" for s, r in enumerate(rungs))
    if max_t == 1:
        fix = one_epoch_fix(grace_period)
    elif grace_period >= max_t:
        fix = f"set grace_period below {max_t} (e.g. grace_period: 1)"
    else:
        fix = f"lower reduction_factor (to 2) or grace_period, or raise max_epochs to at least {_num(grace_period * rf)}"
    return (f"asha stops no trial early: with max_epochs={max_t}, grace_period={grace_period}, "
            f"reduction_factor={_num(rf)} its rungs are at epoch(s) [{shown}], none below max_epochs: {fix}")


def hyperband_notice(max_t: int, eta: float, num_samples: int) -> str | None:
    """A notice when every trial lands in a bracket whose first milestone is max_epochs (nothing is halved)."""
    filled = hyperband_fill(max_t, eta, num_samples)
    if any(b.stops_early(max_t) for b, _ in filled):
        return None
    shown = "; ".join(f"bracket {b.s}: {n} trial(s), milestones {list(b.milestones)}" for b, n in filled)
    later = [b for b in hyperband_brackets(max_t, eta) if b.stops_early(max_t)]
    if later:
        need = sum(b.trials for b in hyperband_brackets(max_t, eta) if b.s < later[0].s) + 1
        fix = (f"raise num_samples above {need - 1} so trials reach bracket {later[0].s} (first milestone "
               f"{later[0].milestones[0]}), or use asha")
    else:
        enough = next((t for t in range(max_t + 1, 1000) if any(
            b.stops_early(t) for b, _ in hyperband_fill(t, eta, num_samples))), None)
        # only what works here: a smaller reduction_factor where it gives an early milestone; asha where a
        # trial has an epoch before its last
        fixes = [f"raise max_epochs to at least {enough}"] if enough else []
        if eta > 2 and any(b.stops_early(max_t) for b, _ in hyperband_fill(max_t, 2, num_samples)):
            fixes.append("lower reduction_factor (to 2)")
        fixes.append("use asha" if max_t > 1 else "use scheduler: fifo (no scheduler can stop a 1-epoch trial)")
        fix = ", ".join(fixes[:-1]) + (", or " if len(fixes) > 1 else "") + fixes[-1]
    return (f"hyperband stops no trial early: with max_epochs={max_t}, reduction_factor={_num(eta)} and "
            f"{num_samples} trials, Ray's brackets get [{shown}]: every first milestone is max_epochs; {fix}")
