"""The sweep's progress table: Tune's ``CLIReporter``, made so that printing progress can never end a sweep.

Tune calls ``report()`` from its loop: an exception there ends ``tuner.fit()`` with a traceback. Ray's own
reporter (``ray/tune/progress_reporter.py``, Ray 2.x) raised in two cases that sweeps here meet:

- ``sort_by_metric`` sorts the TERMINATED trials by the metric, and a trial that ended before it reported one
  (the trials still waiting when a ``stop: {target: ...}`` ends the sweep) has None: ``TypeError: '<' not
  supported between 'NoneType' and 'float'``;
- the "Current best trial" line looks every parameter column up in the best trial's config with no default,
  and a conditional space's inactive parameter is absent there: ``KeyError``.

Both are avoided below. Any other error inside Ray's report prints one line, once, and from then on a plain
table of our own, built from the trials' public attributes.

Ray's reporter is reached through :func:`hwk4tune.tune._ray_private.reporter_with_best_trial_hook`: its
sorting switched off for a report whose terminated trials lack the metric, and its "Current best trial" pick
handed on as a view.
"""

from __future__ import annotations

import math
import numbers
from types import SimpleNamespace

from hwk4tune.tune import _ray_private

_ABSENT = object()


def _lookup(key: str, config: dict):
    """``config[key]``, or for a nested group's ``a/b`` ``config[a][b]`` (Tune's flat names); else _ABSENT."""
    if key in config:
        return config[key]
    node = config
    for part in key.split("/"):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


class SweepReporter(_ray_private.reporter_with_best_trial_hook()):
    """``tune.CLIReporter`` (same arguments) whose ``report`` never raises."""

    def __init__(self, *, sort_by_metric: bool = False, **kwargs):
        super().__init__(sort_by_metric=sort_by_metric, **kwargs)
        self._sort_wanted = sort_by_metric
        self._search = (kwargs.get("metric"), kwargs.get("mode"))
        self._failed = False

    def set_search_properties(self, metric, mode):
        done = super().set_search_properties(metric, mode)
        self._search = (metric or self._search[0], mode or self._search[1])
        return done

    def report(self, trials, done, *sys_info):
        try:
            if not self._failed:
                try:
                    super().report(self._ordered(trials), done, *sys_info)
                    return
                except Exception as e:  # noqa: BLE001 - a progress table must not end the sweep
                    self._failed = True
                    print(f"progress table: Ray's reporter failed ({type(e).__name__}: {e}); "
                                "showing a plain table", flush=True)
            print(self.plain_table(trials), flush=True)
        except Exception:  # noqa: BLE001 - not even our own table may end the sweep
            pass

    def _ordered(self, trials: list) -> list:
        """The trials, terminated ones best first and those without the metric last. Ray sorts them itself
        (keeping the best when it truncates the table) only when every one has the metric."""
        metric, mode = self._search
        sign = -1.0 if mode == "max" else 1.0

        def key(t):
            if t.status != "TERMINATED":
                return (0, 0.0)
            value = (t.last_result or {}).get(metric)
            return (0, sign * value) if _number(value) else (1, 0.0)

        ordered = sorted(trials, key=key)
        self.sort_terminated_by_metric(self._sort_wanted and all(
            _number((t.last_result or {}).get(metric)) for t in trials if t.status == "TERMINATED"))
        return ordered

    def best_trial_view(self, best, metric):
        """Ray's pick, handed on as a view whose config names every parameter column: an inactive conditional
        parameter is None there, not a KeyError."""
        config = dict(best.last_result.get("config") or best.config or {})
        missing = {p: None for p in self.parameter_columns if _lookup(p, config) is _ABSENT}
        if not missing:
            return best
        return SimpleNamespace(trial_id=best.trial_id, last_result={**best.last_result, "config": {**config, **missing}})

    def plain_table(self, trials: list) -> str:
        """trial, status, the parameters present in its config, the metric, epoch: one line per trial."""
        metric = self._search[0] or "metric"
        columns = list(self.parameter_columns)
        rows = [("trial", "status", "parameters", metric, "epoch")]
        for t in trials:
            result, config = t.last_result or {}, t.config or {}
            params = ((p, _lookup(p, config)) for p in columns or config)
            rows.append((str(t.trial_id), str(t.status),
                         ", ".join(f"{p}={_short(v)}" for p, v in params if v is not _ABSENT),
                         _short(result.get(metric, "")), _short(result.get("epoch", ""))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
