"""A translated :class:`~hwk4tune.importers.common.Draft` -> ``space.yaml`` + ``sweep.yaml``.

Before writing, the rules that ``hwk4tune validate`` would refuse are settled here, each with a note: the
trainable is chosen from the parameter names, a data set guessed from the file's words, a grid searcher
without grid parameters becomes random, a normal distribution becomes a uniform range for a searcher that
samples none (Optuna), a scheduler's first rung is kept within ``max_epochs``. Each rule asks the searcher's
or the scheduler's model (:func:`~hwk4tune.spec.strategies.searcher_model`) for its fact, never its name.
"""

from __future__ import annotations

from pathlib import Path

from hwk4tune.importers.common import CNN_ONLY, DEFAULT_EPOCHS, DEFAULT_SAMPLES, RESNET_ONLY, Draft
from hwk4tune.spec import dump_yaml
from hwk4tune.spec.strategies import scheduler_model, searcher_model

SPACE_FILE = "space.yaml"
SWEEP_FILE = "sweep.yaml"
DATASET_WORDS = (("fashion", "fashion_mnist"), ("cifar", "cifar10"), ("mnist", "mnist"), ("digits", "digits"))


def _trainable(draft: Draft) -> str:
    if any(k in draft.space for k in RESNET_ONLY):
        for k in CNN_ONLY:
            if draft.space.pop(k, None) is not None:
                draft.note(k, "the resnet trainable has no such hyperparameter (finetune/augment chose resnet); left out")
        return "resnet"
    return "cnn"


def _dataset(draft: Draft) -> str:
    text = draft.text.lower()
    for word, name in DATASET_WORDS:
        if word in text:
            draft.note("(data set)", f"the file names no data set the way hwk4tune does; {name!r} guessed from "
                                     f"the word {word!r} in it: change dataset: in {SPACE_FILE} if wrong")
            return name
    draft.note("(data set)", "the file names no data set; using digits (offline, small): change dataset: in "
                             f"{SPACE_FILE}")
    return "digits"


def _settle(draft: Draft) -> None:
    """Settle what validate would refuse, asking the searcher's and the scheduler's models for their facts."""
    _settle_searcher(draft)
    draft.max_epochs = draft.max_epochs or DEFAULT_EPOCHS
    _settle_scheduler(draft)
    if draft.num_samples is None:  # a grid searcher runs its whole grid once per sample
        draft.num_samples = 1 if searcher_model(draft.searcher["name"]).needs_grid else DEFAULT_SAMPLES


def _settle_searcher(draft: Draft) -> None:
    searcher = searcher_model(draft.searcher["name"])
    grid = [k for k, v in draft.space.items() if isinstance(v, dict) and "grid" in v]
    if searcher.needs_grid and not grid:
        draft.note("(searcher)", "a grid search needs parameters with a list of values; none is left, so "
                                 "searcher: random")
        draft.searcher = {"name": "random", **({"seed": draft.searcher["seed"]} if "seed" in draft.searcher else {})}
    if searcher.model_based:  # it cannot search grid parameters
        for k in grid:
            draft.space[k] = {"choice": draft.space[k]["grid"]}
    if not searcher.samples_normal:
        for k, v in list(draft.space.items()):
            if isinstance(v, dict) and "normal" in v:
                _normal_to_uniform(draft, k, *v["normal"])


def _normal_to_uniform(draft: Draft, key: str, mean: float, sd: float) -> None:
    """mean ± 3 sd, clipped at 0 (lr: above 0), for a searcher that samples no normal distribution."""
    low = max(mean - 3 * sd, 0.0) if key != "lr" else max(mean - 3 * sd, 1e-8)
    draft.space[key] = {"uniform": [low, mean + 3 * sd]}
    draft.note(key, f"{draft.searcher['name']} samples no normal distribution: normal({mean}, {sd}) became "
                    f"uniform [{low:g}, {mean + 3 * sd:g}] (mean ± 3 sd)")


def _settle_scheduler(draft: Draft) -> None:
    sched = draft.scheduler
    scheduler = scheduler_model(sched["name"])
    if scheduler.counts_to_max_epochs and sched.get("grace_period", 1) > draft.max_epochs:
        draft.note("(scheduler)", f"first rung {sched['grace_period']} is beyond max_epochs {draft.max_epochs}; "
                                  f"grace_period: {draft.max_epochs}")
        sched["grace_period"] = draft.max_epochs
    tunable = [k for k, v in draft.space.items() if isinstance(v, dict)]
    if scheduler.explores_config and not tunable:
        draft.note("(scheduler)", f"{sched['name']} needs a tunable parameter to mutate and none is left; "
                                  "scheduler: fifo")
        draft.scheduler = {"name": "fifo"}


def documents(draft: Draft) -> tuple[dict, dict]:
    """The space and sweep mappings."""
    trainable = _trainable(draft)
    dataset = _dataset(draft)
    _settle(draft)
    space = {"trainable": trainable, "dataset": {"name": dataset}, "metric": draft.metric, "mode": draft.mode,
             "max_epochs": draft.max_epochs, "space": draft.space}
    sweep = {"space": SPACE_FILE, "searcher": draft.searcher, "scheduler": draft.scheduler,
             "num_samples": draft.num_samples}
    if draft.max_concurrent_trials:
        sweep["max_concurrent_trials"] = draft.max_concurrent_trials
    return space, sweep


def _header(draft: Draft, what: str) -> str:
    lines = [f"# {what}, imported from {draft.source} ({draft.kind}) by `hwk4tune import`."]
    if draft.name:
        lines.append(f"# Its name there: {draft.name}")
    if draft.notes:
        lines.append("# What could not be mapped exactly:")
        lines += [f"#   {n.split(': ', 1)[1] if ': ' in n else n}" for n in draft.notes]
    return "\n".join(lines) + "\n"


def write(draft: Draft, out: str | Path) -> tuple[Path, Path]:
    """Write ``OUT/space.yaml`` and ``OUT/sweep.yaml``; return their paths."""
    space, sweep = documents(draft)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    space_path, sweep_path = out / SPACE_FILE, out / SWEEP_FILE
    space_path.write_text(_header(draft, "Search space") + dump_yaml(space))
    sweep_path.write_text(_header(draft, "Sweep") + dump_yaml(sweep))
    return space_path, sweep_path
