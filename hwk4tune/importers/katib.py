"""A Katib ``Experiment`` (``kubeflow.org/v1beta1``) -> a :class:`~hwk4tune.importers.common.Draft`.

Parameters (values are strings in Katib: ``"0.01"``): ``double`` min/max -> ``uniform`` (``step`` ->
``quniform``; ``distribution: logUniform`` -> ``loguniform``/``qloguniform``; ``normal`` -> ``normal`` with
Katib's mean (min+max)/2 and sd (max-min)/6; ``logNormal`` ≈ ``loguniform [min, max]``); ``int`` -> ``randint``
(both bounds included, as in Katib; ``step`` -> ``qrandint``; ``logUniform`` -> ``lograndint``); ``discrete``
and ``categorical`` lists -> ``choice``. Under ``algorithmName: grid`` every list, every int range and every
double range with a step becomes a ``grid``.

Algorithms: random, grid -> the same; tpe -> Optuna TPE; multivariate-tpe ≈ Optuna TPE; cmaes -> Optuna
CMA-ES; bayesianoptimization ≈ Optuna GP; sobol -> Optuna QMC (Sobol); hyperband -> random + HyperBand;
pbt -> random + PBT. ``earlyStopping: medianstop`` -> the median stopping rule.
"""

from __future__ import annotations

import math
from typing import Any

from hwk4tune.importers.common import (
    Draft,
    NotASweep,
    epochs,
    is_epochs,
    metric_of,
    normalize,
    number,
    our_name,
    place,
)
from hwk4tune.spec.strategies import scheduler_model, searcher_model

SPEC_KEYS = ("parameters", "objective", "algorithm", "earlyStopping", "maxTrialCount", "parallelTrialCount",
             "maxFailedTrialCount", "trialTemplate", "metricsCollectorSpec", "resumePolicy", "nasConfig")
SEARCHERS = {
    "random": ({"name": "random"}, None),
    "grid": ({"name": "grid"}, None),
    "tpe": ({"name": "optuna", "sampler": "tpe"}, None),
    "multivariate-tpe": ({"name": "optuna", "sampler": "tpe"},
                         "Optuna's TPE here samples each parameter on its own (the multivariate option is not exposed)"),
    "cmaes": ({"name": "optuna", "sampler": "cmaes"}, None),
    "bayesianoptimization": ({"name": "optuna", "sampler": "gp"},
                             "Katib's scikit-optimize Gaussian process runs as Optuna's GP sampler here"),
    "sobol": ({"name": "optuna", "sampler": "qmc"}, None),
    "hyperband": ({"name": "random"}, None),
    "pbt": ({"name": "random"}, None),
}


def translate(data: Any, draft: Draft) -> Draft:
    if not isinstance(data, dict) or data.get("kind") != "Experiment" or not isinstance(data.get("spec"), dict):
        raise NotASweep(f"{draft.source}: not a Katib Experiment (kind: Experiment with a spec:)")
    spec = data["spec"]
    if not isinstance(spec.get("parameters"), list):
        raise NotASweep(f"{draft.source}: a Katib Experiment without spec.parameters (a NAS experiment?) has no "
                        "hyperparameters to import")
    meta = data.get("metadata") or {}
    draft.name = meta.get("name")
    if draft.name:
        draft.note("metadata.name", f"{draft.name!r} kept in the files' header; experiment folders are named by --name")
    if meta.get("namespace"):
        draft.note("metadata.namespace", "Kubernetes namespaces have no counterpart; experiments here are folders")
    algorithm = spec.get("algorithm") or {}
    name = str(algorithm.get("algorithmName", "random")).lower()
    settings = _settings(algorithm.get("algorithmSettings"))
    _algorithm(draft, name, settings)
    _objective(draft, spec.get("objective"))
    references = _references(spec.get("trialTemplate"))
    grid = searcher_model(draft.searcher["name"]).needs_grid  # lists and stepped ranges become grids
    for i, p in enumerate(spec["parameters"]):
        _parameter(draft, f"spec.parameters.{i}", p, references, grid=grid, resource=settings.get("resource_name"))
    _early_stopping(draft, spec.get("earlyStopping"))
    _counts(draft, spec)
    for key in spec:
        if key == "trialTemplate":
            draft.note("spec.trialTemplate", "the trial runs the trainable of space.yaml in-process, not a "
                       "container; the parameter names chose it. For your own model: a trainable of your own "
                       "(`trainable: my_model.py:train`)")
        elif key == "metricsCollectorSpec":
            draft.note("spec.metricsCollectorSpec", "the trainables report their metrics to Ray Tune directly")
        elif key == "resumePolicy":
            draft.note("spec.resumePolicy", "every sweep here can be resumed: `hwk4tune resume DIR`")
        elif key == "nasConfig":
            draft.note("spec.nasConfig", "neural architecture search has no counterpart here; ignored")
        elif key not in SPEC_KEYS:
            draft.note(f"spec.{key}", "not a key of Katib's ExperimentSpec; ignored")
    return draft


def _settings(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {str(s.get("name")): number(s.get("value")) for s in items if isinstance(s, dict)}


def _algorithm(draft: Draft, name: str, settings: dict) -> None:
    if name not in SEARCHERS:
        draft.note("spec.algorithm.algorithmName", f"{name!r} has no counterpart here; using random")
        name = "random"
    searcher, why = SEARCHERS[name]
    draft.searcher = dict(searcher)
    if why:
        draft.note("spec.algorithm.algorithmName", f"{name}: {why}")
    used = set()
    if "random_state" in settings and isinstance(settings["random_state"], int):
        draft.searcher["seed"] = settings["random_state"]
        used.add("random_state")
    if name in SCHEDULER_ALGORITHMS:  # Katib's algorithm is a scheduler here, over random trials
        used |= SCHEDULER_ALGORITHMS[name](draft, settings)
    for key in settings:
        if key not in used:
            draft.note(f"spec.algorithm.algorithmSettings.{key}", f"{name}'s setting {key} has no counterpart "
                       "here; ignored")


def _hyperband(draft: Draft, settings: dict) -> set[str]:
    """Katib's hyperband: Ray's HyperBand scheduler; returns the settings it used."""
    eta = settings.get("eta", 3)
    draft.scheduler = {"name": "hyperband", "reduction_factor": eta}
    if isinstance(settings.get("r_l"), int):
        draft.max_epochs = settings["r_l"]
    draft.note("spec.algorithm", f"hyperband: Ray's HyperBand scheduler with reduction_factor {eta} and "
                                 f"max_epochs {settings.get('r_l', '(default)')}; trials are drawn at random")
    return {"eta", "r_l", "resource_name"}


def _pbt(draft: Draft, settings: dict) -> set[str]:
    """Katib's pbt: Ray's PBT scheduler, its population the sweep's num_samples; returns the settings it used."""
    used = set()
    sched = {"name": "pbt", "perturbation_interval": 1}
    if isinstance(settings.get("truncation_threshold"), (int, float)):
        sched["quantile_fraction"] = min(0.5, float(settings["truncation_threshold"]))
        used.add("truncation_threshold")
    if isinstance(settings.get("resample_probability"), (int, float)):
        sched["resample_probability"] = float(settings["resample_probability"])
        used.add("resample_probability")
    if isinstance(settings.get("n_population"), int):
        draft.num_samples = settings["n_population"]
        used.add("n_population")
        draft.note("spec.algorithm.algorithmSettings.n_population", f"the population is the sweep's "
                   f"num_samples ({settings['n_population']}); maxTrialCount does not apply to PBT here")
    draft.scheduler = sched
    return used


# Katib's algorithms that are schedulers here (over random trials): name -> what sets the scheduler
SCHEDULER_ALGORITHMS = {"hyperband": _hyperband, "pbt": _pbt}


def _objective(draft: Draft, objective: Any) -> None:
    if not isinstance(objective, dict):
        draft.note("spec.objective", "missing; using val_accuracy, maximized")
        return
    metric_of(draft, "spec.objective.objectiveMetricName", objective.get("objectiveMetricName"),
              objective.get("type"))
    if "goal" in objective:
        draft.note("spec.objective.goal", f"no sweep here stops when a trial reaches {objective['goal']}: every "
                                          "trial runs (compare files take `target:`)")
    if objective.get("additionalMetricNames"):
        draft.note("spec.objective.additionalMetricNames", "every trial reports train_loss, val_loss, val_accuracy, "
                                                           "epoch_seconds anyway; the list is not needed")
    for key in objective:
        if key not in ("type", "goal", "objectiveMetricName", "additionalMetricNames"):
            draft.note(f"spec.objective.{key}", "no counterpart here; ignored")


def _references(template: Any) -> dict[str, str]:
    """Katib parameter name -> the trial parameter names that reference it (the template's names)."""
    out: dict[str, str] = {}
    if isinstance(template, dict):
        for tp in template.get("trialParameters") or []:
            if isinstance(tp, dict) and tp.get("reference"):
                out[str(tp["reference"])] = str(tp.get("name", ""))
    return out


def _parameter(draft: Draft, key: str, p: Any, references: dict, grid: bool, resource: Any) -> None:
    if not isinstance(p, dict) or "name" not in p:
        draft.note(key, "a parameter needs a name; left out")
        return
    name = str(p["name"])
    key = f"{key}({name})"
    names = (name, references.get(name, name))
    if any(is_epochs(n) for n in names):
        top = number((p.get("feasibleSpace") or {}).get("max"))
        values = [top] if isinstance(top, int) else []  # Katib's epochs are an int parameter
        epochs(draft, key, name, [max(draft.max_epochs or 0, *values)] if values else [], ranged=True)
        return
    if resource is not None and normalize(str(resource)) == normalize(name) and not is_epochs(name) \
            and our_name(*names) is None:
        budget = f"r_l, {draft.max_epochs}" if draft.max_epochs else "the default: no r_l"
        draft.note(key, f"hyperband's resource: renamed to max_epochs ({budget})")
        return
    dsl = _dsl(draft, key, str(p.get("parameterType", "")).lower(), p.get("feasibleSpace") or {}, grid)
    if dsl is not None:
        place(draft, key, names, dsl, original=name)


def _dsl(draft: Draft, key: str, kind: str, space: dict, grid: bool) -> Any:
    if kind in ("categorical", "discrete"):
        values = [number(v) for v in space.get("list") or []]
        if not values:
            draft.note(key, f"{kind} needs feasibleSpace.list; left out")
            return None
        return {"grid" if grid else "choice": values}
    lo, hi, step = number(space.get("min")), number(space.get("max")), number(space.get("step"))
    if kind not in ("double", "int") or not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)) \
            or not lo < hi:
        draft.note(key, f"parameterType {kind!r} with min={space.get('min')!r} max={space.get('max')!r} is not "
                        "a range; left out")
        return None
    dist = str(space.get("distribution", "uniform"))
    step = step if isinstance(step, (int, float)) and step > 0 else None
    if kind == "int":
        lo, hi = int(lo), int(hi)
        if grid:
            return {"grid": list(range(lo, hi + 1, int(step or 1)))}
        if dist == "logUniform":
            return {"lograndint": [max(lo, 1), hi]}
        return {"qrandint": [lo, hi, int(step)]} if step and step > 1 else {"randint": [lo, hi]}
    lo, hi = float(lo), float(hi)
    if grid:
        if step:
            n = int(math.floor((hi - lo) / step + 1e-9))
            return {"grid": [float(f"{lo + i * step:.10g}") for i in range(n + 1)]}
        draft.note(key, "Katib's grid needs a step for a double; without one it is drawn at random here")
    if dist == "normal":
        mean, sd = (lo + hi) / 2, (hi - lo) / 6
        draft.note(key, f"normal: mean {mean:g}, sd {sd:g} as Katib derives them from min/max; values outside "
                        "[min, max] can be drawn here")
        return {"normal": [mean, sd]}
    if dist == "logNormal":
        draft.note(key, "logNormal: no log-normal in the space DSL; loguniform over [min, max]")
        dist = "logUniform"
    if dist == "logUniform":
        if lo <= 0:
            draft.note(key, "logUniform needs min > 0; left out")
            return None
        return {"qloguniform": [lo, hi, step]} if step else {"loguniform": [lo, hi]}
    if step:
        if not math.isclose(round(lo / step) * step, lo, abs_tol=1e-12):
            draft.note(key, f"quniform rounds to multiples of {step}, Katib steps from min {lo}")
        return {"quniform": [lo, hi, step]}
    return {"uniform": [lo, hi]}


def _early_stopping(draft: Draft, spec: Any) -> None:
    if not spec:
        return
    name = str(spec.get("algorithmName", "")).lower() if isinstance(spec, dict) else ""
    if name != "medianstop":
        draft.note("spec.earlyStopping", f"{name or spec!r}: only medianstop has a counterpart here; ignored")
        return
    if scheduler_model(draft.scheduler["name"]).acts_on_trials:
        draft.note("spec.earlyStopping", f"the algorithm already uses the {draft.scheduler['name']} scheduler; "
                                         "the median stopping rule is left out")
        return
    settings = _settings(spec.get("algorithmSettings"))
    sched = {"name": "median"}
    if isinstance(settings.get("min_trials_required"), int):
        sched["min_samples_required"] = max(1, settings["min_trials_required"])
    if isinstance(settings.get("start_step"), int):
        sched["grace_period"] = max(0, settings["start_step"])
    draft.scheduler = sched
    for key in settings:
        if key not in ("min_trials_required", "start_step"):
            draft.note(f"spec.earlyStopping.algorithmSettings.{key}", "no counterpart in the median rule here; ignored")


def _counts(draft: Draft, spec: dict) -> None:
    total = number(spec.get("maxTrialCount"))
    population = scheduler_model(draft.scheduler["name"]).explores_config  # num_samples is its population
    if isinstance(total, int) and total > 0 and not population:
        if searcher_model(draft.searcher["name"]).needs_grid:
            draft.num_samples = 1
            draft.note("spec.maxTrialCount", f"a grid sweep here runs every grid point once; maxTrialCount {total} "
                                             "is not a limit on it")
        else:
            draft.num_samples = total
    elif "maxTrialCount" not in spec and not population:
        draft.note("spec.maxTrialCount", "missing; num_samples: 10")
    parallel = number(spec.get("parallelTrialCount"))
    if isinstance(parallel, int) and parallel > 0:
        draft.max_concurrent_trials = parallel
    if "maxFailedTrialCount" in spec:
        draft.note("spec.maxFailedTrialCount", "a sweep here never stops for failed trials: each is retried "
                   "max_failures times (default 1) and the others go on")
