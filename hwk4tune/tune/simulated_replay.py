"""A replayed sweep as a discrete-event simulation: the recorded table's epochs on a simulated clock, the real
Ray Tune searcher and scheduler deciding, no Ray actor and no ``ray.init``.

The searcher and scheduler are the ones a live sweep builds (:func:`hwk4tune.tune.strategies.build_strategy`),
driven as Tune's controller drives them, through their public interfaces: the search algorithm (a
``SearchGenerator`` around a ``Searcher``, or a ``BasicVariantGenerator``) makes real
``ray.tune.experiment.Trial`` objects (``next_trial``, which calls ``Searcher.suggest``) and hears every result
and completion (``on_trial_result``, ``on_trial_complete``); the scheduler gets ``on_trial_add``,
``on_trial_result`` (its decision: continue, pause, stop), ``on_trial_complete``, ``on_trial_remove`` and
``choose_trial_to_run``, with this simulation as its controller (:class:`Simulation`: ``get_trials``,
``pause_trial``, ``stop_trial``...).

The clock: ``max_concurrent_trials`` simulated workers (1 when unset); a running trial's next epoch ends its
recorded ``epoch_seconds`` after the previous one; events are taken in order of (time, trial index), so the
same sweep always makes the same decisions in the same order, on any machine, at any concurrency. A paused
trial (HyperBand's milestones, PBT) frees its worker and waits; restarted, it continues at the epoch of its
latest checkpoint, which is its own place in the table, or, after PBT's exploit, the donor's (a
:class:`TablePosition`), on the curve nearest to its (maybe mutated) configuration.

The experiment folder is written as Tune writes one (trial folders with ``params.json`` and ``result.json``,
``experiment_state-*.json``, PBT's ``pbt_global.txt``), plus ``hwk4tune.json`` and ``sweep.yaml``, so
:mod:`hwk4tune.results` and :mod:`hwk4tune.compare` read it as any other. Every report carries
``simulated_s``, the simulated clock when it happened (:func:`hwk4tune.replay.simulate` reads it).
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass, field
from typing import Any

from hwk4tune.tune import _ray_private

__all__ = ["TablePosition", "Simulation", "simulate_sweep", "warm_up"]

FLOAT_SECONDS = "epoch_seconds"
MAX_PENDING_UNLIMITED = 200  # Tune's own minimum of pending trials for a BasicVariantGenerator


@dataclass(frozen=True)
class TablePosition:
    """A simulated checkpoint: how many epochs of the table a trial has done and the seconds they took."""

    epoch: int
    time_total_s: float


@dataclass
class _TrialRun:
    """The simulation's view of one trial: where it is in the table and what it reported."""

    index: int
    trial: Any
    file_id: str
    start_config: dict
    start_s: float | None = None
    epoch: int = 0
    time_total_s: float = 0.0
    since_restore: int = 0
    time_since_restore: float = 0.0
    curve: list = field(default_factory=list)
    config_id: int = -1
    distance: float = 0.0
    generation: int = 0  # bumped when its epoch in flight is abandoned (paused or stopped by another's result)
    reports: list = field(default_factory=list)
    config_seen: Any = None
    config_copy: dict | None = None

    def config_now(self) -> dict:
        """A copy of the trial's configuration now, made once per configuration (PBT sets a new one)."""
        if self.trial.config is not self.config_seen:
            self.config_seen, self.config_copy = self.trial.config, copy.deepcopy(self.trial.config)
        return self.config_copy


def _set_last_result(trial, result: dict) -> None:
    """Tune's ``Trial.update_last_result`` without its per-metric statistics (no scheduler reads them; they
    were a third of a simulated epoch's cost)."""
    if trial.experiment_tag:
        result["experiment_tag"] = trial.experiment_tag
    trial.run_metadata.last_result = result


def _not_run(config):  # the Experiment's trainable: the simulation never calls it
    raise RuntimeError("a simulated replay runs no trainable")


class Simulation(_ray_private.controller_hooks()):
    """One replayed sweep on a simulated clock; also the controller its scheduler talks to."""

    def __init__(self, spec, table, name: str, exp_dir: str) -> None:
        from hwk4tune.tune.strategies import StrategyArgs, build_strategy

        self.spec, self.table, self.name, self.exp_dir = spec, table, name, exp_dir
        self.max_epochs = spec.space.max_epochs
        self.slots = int(spec.max_concurrent_trials or 1)
        search_alg, self.scheduler = build_strategy(StrategyArgs.from_sweep(spec, name))
        self._search = _search_algorithm(spec, exp_dir, search_alg, self.scheduler)
        self.max_pending = _max_pending(self._search)
        self.trials: list = []
        self.runs: dict[Any, _TrialRun] = {}
        self.live: set = set()
        self.now = 0.0
        self.events: list[tuple[float, int, int, str]] = []  # (time, trial index, generation, kind)

    # ------------------------------------------------------------------------------ what the scheduler calls

    @property
    def search_alg(self):
        return self._search

    def get_trials(self) -> list:
        return self.trials

    def get_live_trials(self) -> set:
        return self.live

    def get_trial(self, trial_id: str):
        return next((t for t in self.trials if t.trial_id == trial_id), None)

    def save_trial(self, trial, result: dict | None = None) -> TablePosition:
        """The trial's place in the table, registered as its latest checkpoint (what Tune's save does)."""
        r = self.runs[trial]
        position = TablePosition(r.epoch, r.time_total_s)
        _ray_private.set_checkpoint_results(trial.run_metadata.checkpoint_manager, [],
                                            _ray_private.checkpoint_result(position, dict(trial.last_result)))
        return position

    def pause_trial(self, trial, should_checkpoint: bool = True) -> None:
        """A running trial stops and waits, its worker freed (a simulated wait)."""
        from ray.tune.experiment import Trial

        if trial.status != Trial.RUNNING:
            return
        if should_checkpoint:
            self.save_trial(trial)
        self.runs[trial].generation += 1
        trial.set_status(Trial.PAUSED)

    def stop_trial(self, trial) -> None:
        """Tune's ``stop_trial``: the scheduler and searcher hear of it, the trial ends."""
        from ray.tune.experiment import Trial
        from ray.tune.utils import flatten_dict

        if trial.status in (Trial.ERROR, Trial.TERMINATED):
            return
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
            self._search.on_trial_complete(trial.trial_id)
        else:
            last = flatten_dict(trial.last_result)
            self.scheduler.on_trial_complete(self, trial, last)
            self._search.on_trial_complete(trial.trial_id, result=last)
        self.runs[trial].generation += 1
        trial.set_status(Trial.TERMINATED)
        self.live.discard(trial)

    def note_trial(self, trial) -> None:
        """Tune notes a trial for its next saved state; the simulation writes every trial at the end."""

    # ------------------------------------------------------------------------------ the event loop

    def run(self) -> "Simulation":
        """Run the sweep to its end: every trial finished and the searcher done."""
        while True:
            self._fill_queue()
            self._start_trials()
            if not self.events:
                if self._finished():
                    return self
                raise RuntimeError(f"simulated replay {self.name}: no trial can run and the sweep is not over "
                                   f"({[(t.trial_id, t.status) for t in self.trials]})")
            when, index, generation, kind = heapq.heappop(self.events)
            r = self.runs[self.trials[index]]
            if generation != r.generation:
                continue  # abandoned: the trial was paused or stopped meanwhile
            self.now = when
            self._on_end(r) if kind == "end" else self._on_epoch(r)

    def _finished(self) -> bool:
        return all(t.is_finished() for t in self.trials) and self._search.is_finished()

    def _fill_queue(self) -> None:
        """Tune's ``_maybe_update_trial_queue``: new trials from the search algorithm while few are pending."""
        from ray.tune.experiment import Trial

        if self._search.is_finished():
            return
        while sum(t.status == Trial.PENDING for t in self.trials) < self.max_pending:
            trial = self._search.next_trial()
            if trial is None:
                return
            self._add(trial)

    def _add(self, trial) -> None:
        index = len(self.trials)
        _ray_private.stage_trial_in_experiment_folder(trial)
        self.trials.append(trial)
        self.runs[trial] = _TrialRun(index, trial, f"replay_{index:05d}", copy.deepcopy(trial.config))
        self.live.add(trial)
        self.scheduler.on_trial_add(self, trial)

    def _start_trials(self) -> None:
        """Fill the free workers: the scheduler's choice first, else the oldest pending trial."""
        from ray.tune.experiment import Trial

        while sum(t.status == Trial.RUNNING for t in self.trials) < self.slots:
            trial = self.scheduler.choose_trial_to_run(self)
            if trial is None or trial.status not in (Trial.PENDING, Trial.PAUSED):
                trial = next((t for t in self.trials if t.status == Trial.PENDING), None)
            if trial is None:
                return
            self._start(trial)

    def _start(self, trial) -> None:
        """A trial starts, or restarts from its latest checkpoint (its own place, or PBT's donor's)."""
        from ray.tune.experiment import Trial

        r = self.runs[trial]
        position = trial.checkpoint
        if isinstance(position, TablePosition):
            r.epoch, r.time_total_s = position.epoch, position.time_total_s
        r.since_restore, r.time_since_restore = 0, 0.0
        if r.start_s is None:
            r.start_s = self.now
        r.config_id, r.distance = self.table.nearest(trial.config)
        r.curve = self.table.curve(r.config_id)
        trial.set_status(Trial.RUNNING)
        self._schedule_epoch(r)

    def _schedule_epoch(self, r: _TrialRun) -> None:
        """The trial's next epoch ends its recorded seconds from now; past its curve's end it returns now."""
        if r.epoch >= min(self.max_epochs, len(r.curve)):
            heapq.heappush(self.events, (self.now, r.index, r.generation, "end"))
            return
        seconds = max(0.0, float(r.curve[r.epoch].get(FLOAT_SECONDS) or 0.0))
        heapq.heappush(self.events, (self.now + seconds, r.index, r.generation, "epoch"))

    def _on_epoch(self, r: _TrialRun) -> None:
        """One epoch's result, decided on as Tune's ``_process_trial_result`` does."""
        from ray.tune.experiment import Trial
        from ray.tune.schedulers import TrialScheduler
        from ray.tune.utils import flatten_dict

        trial = r.trial
        result = self._result(r)
        flat = flatten_dict(result)
        if trial.should_stop(flat):  # the stop criterion, {"epoch": max_epochs}
            decision = TrialScheduler.STOP
        else:
            decision = self.scheduler.on_trial_result(self, trial, flat)
        if decision == TrialScheduler.STOP:
            result["done"] = True
        else:
            self._search.on_trial_result(trial.trial_id, flat)
        r.reports.append(dict(result))
        _set_last_result(trial, result)
        if decision == TrialScheduler.STOP:
            self.stop_trial(trial)
        elif decision == TrialScheduler.PAUSE:
            self.pause_trial(trial)
        elif decision == TrialScheduler.CONTINUE and trial.status == Trial.RUNNING:
            self._schedule_epoch(r)

    def _on_end(self, r: _TrialRun) -> None:
        """The trainable returned (its curve ended): Tune marks the last result done and stops the trial."""
        r.trial.last_result["done"] = True
        self.stop_trial(r.trial)

    def _result(self, r: _TrialRun) -> dict:
        """What the replay trainable reports for the trial's next epoch, with Tune's own fields."""
        row = r.curve[r.epoch]
        seconds = max(0.0, float(row.get(FLOAT_SECONDS) or 0.0))
        r.epoch += 1
        r.since_restore += 1
        r.time_total_s += seconds
        r.time_since_restore += seconds
        return {**row, "epoch": r.epoch, "replayed_from": r.config_id, "replay_distance": r.distance,
                "simulated_s": self.now, "training_iteration": r.epoch, "time_this_iter_s": seconds,
                "time_total_s": r.time_total_s, "time_since_restore": r.time_since_restore,
                "iterations_since_restore": r.since_restore, "trial_id": r.trial.trial_id, "done": False,
                "config": r.config_now()}  # the configuration it ran with, as the trainable reports it


def _search_algorithm(spec, exp_dir: str, search_alg, scheduler):
    """The search algorithm as Tune sets it up: a ``Searcher`` inside a ``SearchGenerator``, told metric, mode
    and the space, given the experiment (num_samples, the stop criterion); the scheduler told metric and mode."""
    from pathlib import Path

    from ray import tune
    from ray.tune.search import Searcher, SearchGenerator

    from hwk4tune.tune.strategies import param_space

    config = copy.deepcopy(param_space(spec.space, spec.searcher))
    exp = tune.Experiment(name=Path(exp_dir).name, run=_not_run, config=config, num_samples=spec.num_samples,
                          stop={"epoch": spec.space.max_epochs}, storage_path=str(Path(exp_dir).parent),
                          trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
                          checkpoint_config=tune.CheckpointConfig(num_to_keep=None))
    if isinstance(search_alg, Searcher):
        search_alg = SearchGenerator(search_alg)
    if config:
        search_alg.set_search_properties(spec.space.metric, spec.space.mode, config, **exp.public_spec)
    scheduler.set_search_properties(spec.space.metric, spec.space.mode, **exp.public_spec)
    search_alg.add_configurations([exp])
    return search_alg


def _max_pending(search_alg) -> int:
    """Tune's limit on pending trials: a ``ConcurrencyLimiter``'s own limit, 1 for another searcher, and
    plenty for a ``BasicVariantGenerator`` (it limits itself)."""
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    if isinstance(search_alg, BasicVariantGenerator):
        return MAX_PENDING_UNLIMITED
    searcher = getattr(search_alg, "searcher", None)
    while searcher is not None:
        if isinstance(searcher, ConcurrencyLimiter):
            return searcher.max_concurrent
        searcher = getattr(searcher, "searcher", None)
    return 1


def warm_up(specs: list) -> None:
    """Import what the sweeps' searchers and schedulers need (Ray Tune, Optuna, HyperOpt, nevergrad: seconds,
    once per process) by building each strategy once, so that a run's wall time is its simulation's."""
    from hwk4tune.tune.strategies import StrategyArgs, build_strategy

    seen = set()
    for spec in specs:
        key = (spec.searcher.name, spec.scheduler.name)
        if key not in seen:
            seen.add(key)
            build_strategy(StrategyArgs.from_sweep(spec))


def simulate_sweep(spec, table, name: str, exp_dir: str, start_unix: float = 0.0) -> Simulation:
    """Replay one sweep (a :class:`~hwk4tune.spec.SweepSpec`) on ``table`` (a
    :class:`~hwk4tune.replay.ReplayTable`) and write Tune's files into ``exp_dir`` (the caller writes
    ``hwk4tune.json`` and ``sweep.yaml`` first); ``start_unix``: the origin of the files' timestamps."""
    if spec.stopping is not None:
        raise ValueError("a simulated replay has no `stop:` rules (a compare file has none)")
    sim = Simulation(spec, table, name, exp_dir).run()
    write_tune_files(sim, exp_dir, start_unix)
    return sim


def write_tune_files(sim: Simulation, exp_dir: str, start_unix: float) -> None:
    """The folder as Tune leaves one (what :mod:`hwk4tune.store.tune_files` reads): per trial ``params.json``
    and ``result.json`` (timestamps: ``start_unix`` + simulated seconds), ``experiment_state-*.json`` and
    PBT's exploit records under the trials' ids in the files."""
    import json
    from pathlib import Path

    exp = Path(exp_dir)
    trial_data = []
    for trial in sim.trials:
        r = sim.runs[trial]
        folder = exp / f"trial_{r.file_id}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "params.json").write_text(json.dumps(r.start_config, default=str))
        lines = [json.dumps({**rep, "trial_id": r.file_id, "timestamp": start_unix + rep["simulated_s"]},
                            default=str) for rep in r.reports]
        (folder / "result.json").write_text("".join(line + "\n" for line in lines))
        last = {**r.reports[-1], "trial_id": r.file_id} if r.reports else {}
        info = {"trial_id": r.file_id, "status": trial.status, "relative_logdir": folder.name,
                "config": trial.config, "experiment_tag": trial.experiment_tag}
        run = {"start_time": start_unix + (r.start_s or 0.0), "num_failures": 0, "error_filename": None,
               "last_result": last}
        trial_data.append([json.dumps(info, default=str), json.dumps(run, default=str)])
    state = {"trial_data": trial_data, "stats": {"start_time": start_unix, "simulated": True}}
    (exp / "experiment_state-simulated.json").write_text(json.dumps(state))
    for trial in sim.trials:  # PBT wrote its records under Tune's in-memory trial ids
        policy = exp / f"pbt_policy_{trial.trial_id}.txt"
        if policy.is_file():
            policy.rename(exp / f"pbt_policy_{sim.runs[trial].file_id}.txt")
