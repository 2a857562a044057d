"""Run and resume sweeps: a validated :class:`~hwk4tune.spec.SweepSpec` -> one Ray Tune experiment.

- :mod:`~hwk4tune.sweep.driver`: the one path of every sweep: lock, Ray, fit, summary;
- :mod:`~hwk4tune.sweep.run`: spec -> Tuner -> ``STORAGE/NAME/``;
- :mod:`~hwk4tune.sweep.resume`: finish an interrupted sweep from its folder;
- :mod:`~hwk4tune.sweep.saved`: ``hwk4tune.json`` and ``sweep.yaml``, written before any trial starts;
- :mod:`~hwk4tune.sweep.final_summary`: what a sweep prints when it ends.

Every Ray call is in :mod:`hwk4tune.tune` (the Tuner in :mod:`~hwk4tune.tune.tuner`, Ray's start in
:mod:`~hwk4tune.tune.ray_setup`): nothing here imports Ray.
"""

from hwk4tune.sweep.driver import SweepInterrupted
from hwk4tune.sweep.resume import resume_sweep
from hwk4tune.sweep.run import ExperimentExists, check_sweep, run_sweep
from hwk4tune.sweep.saved import load_saved_sweep, read_metadata
from hwk4tune.tune.ray_setup import ensure_ray

__all__ = ["run_sweep", "resume_sweep", "ensure_ray", "check_sweep", "read_metadata", "load_saved_sweep",
           "ExperimentExists", "SweepInterrupted"]
