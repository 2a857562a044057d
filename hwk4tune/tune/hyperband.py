"""Ray's synchronous HyperBand, made to keep its brackets when fewer trials run at once than a bracket holds.

Ray's ``HyperBandScheduler`` counts a bracket full when it holds ``n0`` *live* trials (a finished trial leaves
it) and adds each new trial to the current bracket until then; its first bracket never halves. And
``max_concurrent_trials`` (a ``ConcurrencyLimiter`` on the searcher) counts a trial PAUSED at a milestone as
running. So with fewer trials alive at once than the first bracket takes, that bracket never fills, every
trial lands in it and runs to ``max_t``: HyperBand silently becomes FIFO (measured: 0 of 160 trials stopped
in the demo's replay, 2 at a time; ray-project/ray#12536).

:class:`CappedHyperBand` keeps Ray's halving and changes what "full" and "running" mean:

- a bracket is full once it was given its ``n0`` trials, finished or not;
- a bracket halves only once it is full, or once no more trials will come (``num_samples`` reached): not
  over the first trial that reaches its milestone;
- ``max_concurrent_trials`` caps the trials that *run*: a trial paused at a milestone frees its slot for a
  new trial (:meth:`CappedHyperBand.attach` tells the searcher's limit), and a paused trial resumes only
  when a slot is free.

A resumed sweep gives the scheduler its trials again, newest result first and finished ones too (Tune's
requeue order), all PENDING but the finished; Ray's HyperBand would put them in other brackets, keep finished
trials as live ones that never reach a milestone (the bracket waits for ever) and run a trial that waited at
a milestone past it. :class:`CappedHyperBand` holds the trials added before its first
``choose_trial_to_run`` and places them then (:meth:`CappedHyperBand._place_held`): in trial order (the
brackets of the first run), finished ones retired from their bracket, each live one's last result given back to
its bracket, and one that had reached its bracket's milestone PAUSED there again until the bracket halves.
"""

from __future__ import annotations

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, Searcher

from hwk4tune.tune import _ray_private

__all__ = ["CappedHyperBand", "PausableLimiter"]


class PausableLimiter(ConcurrencyLimiter):
    """A ``ConcurrencyLimiter`` that does not count paused trials (they still get their results: Ray's own
    limiter forwards a completion only for a trial it counts)."""

    def __init__(self, searcher: Searcher, max_concurrent: int) -> None:
        super().__init__(searcher, max_concurrent=max_concurrent)
        self.paused: set[str] = set()

    def suggest(self, trial_id: str):
        """Ray's suggest, with the paused trials out of ``live_trials`` while it checks the limit."""
        paused = self.live_trials & self.paused
        self.live_trials -= paused
        try:
            return super().suggest(trial_id)
        finally:
            self.live_trials |= paused

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.paused.discard(trial_id)
        super().on_trial_complete(trial_id, result=result, error=error)


class CappedHyperBand(_ray_private.hyperband_with_hooks()):
    """``HyperBandScheduler`` whose brackets fill and halve under a cap on running trials (module docstring).

    ``num_samples``: the sweep's trials; ``max_running``: the cap (None: as resources allow)."""

    def __init__(self, *, num_samples: int, max_running: int | None = None,
                 time_attr: str = "training_iteration", **kwargs) -> None:
        super().__init__(time_attr=time_attr, **kwargs)
        self._milestone_attr = time_attr
        self._num_samples = num_samples
        self._max_running = max_running
        self._search_alg = None
        self._added: set[str] = set()  # trial ids given to a bracket (resumed ones are added again)
        self._held: list[Trial] | None = []  # trials added before the first choose_trial_to_run; None after

    def attach(self, search_alg) -> None:
        """Let ``search_alg``'s concurrency limit count running trials only (``hwk4tune.tune.strategies``). The
        scheduler keeps the object, not its sets: a resumed sweep restores the searcher's state into it."""
        if self._max_running and not isinstance(search_alg, (PausableLimiter, BasicVariantGenerator)):
            raise TypeError(f"hyperband cannot cap running trials of {type(search_alg).__name__}")
        self._search_alg = search_alg

    def _count(self, trial_id: str, running: bool) -> None:
        """Count a trial in the searcher's limit again (``running``) or not (paused)."""
        alg = self._search_alg
        if isinstance(alg, PausableLimiter):
            (alg.paused.discard if running else alg.paused.add)(trial_id)
        elif isinstance(alg, BasicVariantGenerator):  # random, grid: it forgets a trial on completion
            live = _ray_private.variant_generator_live_trials(alg)
            (live.add if running else live.discard)(trial_id)

    def bracket_created(self, bracket) -> None:
        """A new bracket counts the trials it was given, not its live ones (module docstring)."""
        _ray_private.make_bracket_count_given_trials(bracket)

    def on_trial_add(self, tune_controller, trial: Trial) -> None:
        if self._held is not None:  # placed at the first choose_trial_to_run (module docstring)
            self._held.append(trial)
            return
        super().on_trial_add(tune_controller, trial)
        self._added.add(trial.trial_id)

    def _place_held(self, tune_controller) -> None:
        """Give the trials added so far to their brackets, in trial order; a restored trial as it was left
        (module docstring). In a new sweep the trials come in trial order and have no result: nothing
        else happens to them."""
        held, self._held = self._held or [], None
        for trial in sorted(held, key=_trial_number):
            super().on_trial_add(tune_controller, trial)
            self._added.add(trial.trial_id)
            bracket = next(b for b in self.brackets() if b is not None and trial in _ray_private.bracket_trials(b))
            if trial.status in (Trial.TERMINATED, Trial.ERROR):
                bracket.cleanup_trial(trial)  # finished before the interrupt: it leaves the bracket's live trials
            elif self._milestone_attr in (trial.last_result or {}):
                bracket.update_trial_stats(trial, trial.last_result)
                if not bracket.continue_trial(trial):  # it had reached the milestone: it waits there again
                    _ray_private.set_trial_status(tune_controller, trial, Trial.PAUSED)
                    self._count(trial.trial_id, running=False)
        self._halve_waiting_brackets(tune_controller)

    def _more_trials_coming(self) -> bool:
        return len(self._added) < self._num_samples

    def decide_bracket(self, tune_controller, bracket, ray_decision) -> str:
        """A bracket that still halves waits, its trials paused at the milestone, until it has all its
        trials; then Ray halves it."""
        if _ray_private.bracket_halvings_left(bracket) > 0 and not bracket.filled() and self._more_trials_coming():
            return TrialScheduler.PAUSE
        action = ray_decision()
        # Ray stops a PAUSED trial without saving its new status (TuneController._schedule_trial_stop returns
        # before marking a trial with no actor to be saved): Tune's saved state would keep it PAUSED, and
        # every table would read it as interrupted.
        for trial in _ray_private.bracket_trials(bracket):
            if trial.status in (Trial.TERMINATED, Trial.ERROR):
                _ray_private.mark_trial_to_checkpoint(tune_controller, trial)
        return action

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.PAUSE:
            self._count(trial.trial_id, running=False)
        return action

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        if self._held is not None:
            self._place_held(tune_controller)
        if not self._more_trials_coming():
            self._halve_waiting_brackets(tune_controller)
        trial = super().choose_trial_to_run(tune_controller)
        if trial is None or trial.status != Trial.PAUSED:
            return trial  # a new trial: the searcher's limit already let it in
        if self._max_running and sum(t.status in (Trial.RUNNING, Trial.PENDING)
                                     for t in tune_controller.get_trials()) >= self._max_running:
            return None  # a paused trial resumes when a slot is free
        self._count(trial.trial_id, running=True)
        return trial

    def _halve_waiting_brackets(self, tune_controller) -> None:
        """A bracket whose trials all wait at its milestone halves (no result of theirs would trigger it any
        more): once the last trial was added, or when it is full (a resumed sweep's restored brackets).
        :meth:`decide_bracket` keeps an unfilled one waiting while more trials come. A resumed bracket may
        halve more than once here: a trial restored past several milestones waits at each."""
        for bracket in self.brackets():
            while bracket is not None and not bracket.finished() and bracket.cur_iter_done():
                live = bracket.current_trials()
                if not live or any(t.status != Trial.PAUSED or t in bracket.trials_to_unpause for t in live):
                    break
                halvings = _ray_private.bracket_halvings_left(bracket)
                self.process_bracket(tune_controller, bracket)
                if _ray_private.bracket_halvings_left(bracket) == halvings:
                    break  # it waits for more trials


def _trial_number(trial: Trial) -> int:
    """A trial's place in its sweep: Tune's trial ids end in a counter (``abcde_00003``)."""
    tail = trial.trial_id.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0
