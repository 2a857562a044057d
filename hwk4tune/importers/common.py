"""What both translators share: the draft they fill, the notes they leave, the names and values our
trainables take, and writing the space and sweep files.

A translator never decides validity: it writes files, and ``hwk4tune validate`` says what is valid. It only
keeps out what would certainly be refused (a parameter no trainable takes, a value outside what a
hyperparameter accepts), each with a note saying why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hwk4tune.errors import InputError
from hwk4tune.registry import SCORES, metric_mode
from hwk4tune.registry.hyperparams import FINETUNE, OPTIMIZERS

# our hyperparameter -> the names other tools give it (normalized: lower case, `_` for `-`, camelCase split)
ALIASES: dict[str, tuple[str, ...]] = {
    "lr": ("lr", "learning_rate", "learningrate", "base_lr", "init_lr", "initial_lr", "eta0", "step_size"),
    "momentum": ("momentum", "sgd_momentum"),
    "weight_decay": ("weight_decay", "weightdecay", "wd", "l2", "l2_reg", "l2_lambda", "l2_penalty", "decay"),
    "l1": ("l1", "l1_reg", "l1_lambda", "l1_penalty"),
    "dropout": ("dropout", "dropout_rate", "drop_rate", "dropout_prob", "dropout_p", "p_dropout", "drop_out"),
    "hidden": ("hidden", "hidden_size", "hidden_units", "hidden_dim", "fc_layer_size", "fc_size", "num_hidden",
               "n_hidden", "layer_size", "units", "fc_units", "dense_units", "hidden_layer_size"),
    "batch_norm": ("batch_norm", "batchnorm", "use_batch_norm", "use_bn", "bn"),
    "batch_size": ("batch_size", "batchsize", "bs", "train_batch_size", "mini_batch_size"),
    "optimizer": ("optimizer", "optim", "opt", "optimizer_name", "optimizer_type"),
    "finetune": ("finetune", "fine_tune", "finetune_layers", "trainable_layers"),
    "augment": ("augment", "augmentation", "data_augmentation", "use_augmentation"),
}
EPOCH_NAMES = ("epochs", "epoch", "num_epochs", "n_epochs", "max_epochs", "max_epoch", "training_epochs",
               "num_train_epochs", "train_epochs")
FLOATS = ("lr", "momentum", "weight_decay", "l1", "dropout")
INTS = ("hidden", "batch_size")
BOOLS = ("batch_norm", "augment")
RESNET_ONLY = ("finetune", "augment")
CNN_ONLY = ("hidden", "batch_norm")
OWN_TRAINABLE = "a trainable of your own, named in space.yaml as `trainable: my_model.py:train`"
DEFAULT_EPOCHS = 10
DEFAULT_SAMPLES = 10


class NotASweep(InputError):
    """The file is not a sweep of the kind asked for: one line, exit 2."""


@dataclass
class Draft:
    """What a translator fills; :func:`write` turns it into a space file and a sweep file."""

    source: Path
    kind: str  # "W&B sweep" / "Katib Experiment"
    notes: list[str] = field(default_factory=list)
    space: dict[str, Any] = field(default_factory=dict)  # our hyperparameter -> DSL value
    metric: str = "val_accuracy"
    mode: str = "max"
    max_epochs: int | None = None
    searcher: dict[str, Any] = field(default_factory=lambda: {"name": "random"})
    scheduler: dict[str, Any] = field(default_factory=lambda: {"name": "fifo"})
    num_samples: int | None = None
    max_concurrent_trials: int | None = None
    name: str | None = None
    text: str = ""  # the file's text, for the data set guess

    def note(self, key: str, why: str) -> None:
        self.notes.append(f"{self.source}: {key}: {why}")


# ------------------------------------------------------------------------------------------- reading


def read(path: str | Path, kind: str) -> tuple[Any, str]:
    """The file's data and text; :class:`NotASweep` for a file that is not YAML (or JSON)."""
    path = Path(path)
    if not path.is_file():
        raise NotASweep(f"{path}: no such file")
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NotASweep(f"{path}: not a {kind}: not YAML ({str(exc).splitlines()[0]})") from None
    return data, text


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def number(value: Any) -> Any:
    """``"1e-05"`` (text to YAML 1.1, which wants a dot) and Katib's ``"0.01"`` as numbers; ints stay ints."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        if re.match(r"^[-+]?\d+$", text):
            return int(text)
        return float(text)
    return value


def normalize(name: str) -> str:
    """``--learning-rate`` / ``learningRate`` / ``Learning Rate`` -> ``learning_rate``."""
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(name).strip().lstrip("-"))
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def our_name(*names: str) -> str | None:
    """The hyperparameter of ours that any of ``names`` means, or None."""
    for name in names:
        key = normalize(name)
        for ours, aliases in ALIASES.items():
            if key in aliases:
                return ours
    return None


def is_epochs(name: str) -> bool:
    return normalize(name) in EPOCH_NAMES


# ------------------------------------------------------------------------------------------- metric


def metric_of(draft: Draft, key: str, name: Any, goal: str | None) -> None:
    """Map a metric name and goal onto what our trainables report (val_accuracy, val_loss, train_loss); a name
    that changes is noted (``'val_acc' renamed to val_accuracy``)."""
    mode = {"maximize": "max", "minimize": "min"}.get(str(goal).lower()) if goal else None
    n = normalize(name or "")
    why = None
    if name is None:
        metric = "val_loss" if mode == "min" else "val_accuracy"
        draft.note(key, f"no metric name given; using {metric}")
    elif "acc" in n:
        metric = "val_accuracy"
        if "train" in n:
            why = "the trainables report accuracy on the validation split only"
    elif "loss" in n and "train" in n:
        metric = "train_loss"
    elif "loss" in n:
        metric = "val_loss"
    elif n in ("err", "error", "val_error", "error_rate", "validation_error"):
        metric, mode = "val_accuracy", "max"
        why = "error = 1 - accuracy, so val_accuracy is maximized instead"
    else:
        metric = "val_loss" if mode == "min" else "val_accuracy"
        why = f"not a metric the trainables report ({', '.join(SCORES)}, epoch_seconds…)"
    if name is not None and str(name) != metric:
        draft.note(key, f"{name!r} renamed to {metric}" + (f": {why}" if why else ""))
    draft.metric = metric
    expected = metric_mode(metric)
    if mode is None:
        mode = expected
        if goal is None and name is not None:
            draft.note(key, f"no goal given; {metric} is best at its {expected}imum")
    elif mode != expected:
        draft.note(key, f"goal {goal} for {metric} would look for the worst trials; using mode {expected}")
        mode = expected
    draft.mode = mode


# ------------------------------------------------------------------------------------------- values


def _fits(ours: str, value: Any) -> bool:
    if ours == "optimizer":
        return isinstance(value, str) and value.lower() in OPTIMIZERS
    if ours == "finetune":
        return value in FINETUNE
    if ours in BOOLS:
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if ours in INTS:
        return float(value).is_integer() and value > 0
    if ours == "dropout":
        return 0 <= value < 1
    if ours == "lr":
        return value > 0
    return value >= 0


def _cast(ours: str, value: Any) -> Any:
    if ours == "optimizer" and isinstance(value, str):
        return value.lower()
    if ours in INTS and isinstance(value, float) and value.is_integer():
        return int(value)
    if ours in FLOATS and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if ours in BOOLS and isinstance(value, (int, str)) and str(value).lower() in ("0", "1", "true", "false"):
        return str(value).lower() in ("1", "true")
    return value


def fit(draft: Draft, key: str, ours: str, dsl: Any) -> Any | None:
    """Check a translated parameter against what hyperparameter ``ours`` accepts; fix what can be fixed
    (with a note), return None (with a note) for what cannot."""
    if not isinstance(dsl, dict):  # a constant
        value = _cast(ours, number(dsl))
        if _fits(ours, value):
            return value
        draft.note(key, f"{dsl!r} is not a value {ours} takes ({_takes(ours)}); left out")
        return None
    (kind, args), = dsl.items()
    if kind in ("choice", "grid"):
        values = [_cast(ours, number(v)) for v in args]
        kept = [v for v in values if _fits(ours, v)]
        dropped = [v for v in args if _cast(ours, number(v)) not in kept]
        if dropped:
            draft.note(key, f"{dropped} are not values {ours} takes ({_takes(ours)}); left out of the {kind}")
        if not kept:
            return None
        return {kind: list(dict.fromkeys(kept))} if len(set(map(repr, kept))) > 1 or kind == "grid" else kept[0]
    if ours in ("optimizer", "finetune") + BOOLS:
        draft.note(key, f"{ours} takes {_takes(ours)}, not a numeric range; left out")
        return None
    if kind == "normal":
        return dsl
    low, high = args[0], args[1]
    if ours in INTS and kind not in ("randint", "qrandint", "lograndint"):
        lo, hi = max(1, math.ceil(low)), math.floor(high)
        if hi <= lo:
            draft.note(key, f"{kind}({low}, {high}) holds no integer range for {ours}; left out")
            return None
        new = {"lograndint" if "log" in kind else "randint": [lo, hi]}
        draft.note(key, f"{ours} is an integer: {kind}({low}, {high}) drawn as {new}")
        return new
    if ours in FLOATS and kind in ("randint", "qrandint", "lograndint"):
        new = {"loguniform" if kind == "lograndint" else "uniform": [float(low), float(high)]}
        draft.note(key, f"integer bounds [{low}, {high}] read as a float range for {ours} (drawn as {new}); "
                        "an integer draw would only give the bounds' integers")
        return fit(draft, key, ours, new)
    if ours == "dropout" and high >= 1:
        new_high = 0.9
        draft.note(key, f"dropout must stay below 1; upper bound {high} lowered to {new_high}")
        if low >= new_high:
            return None
        return {kind: [low, new_high, *args[2:]]}
    if low < 0 and ours in FLOATS:
        draft.note(key, f"{ours} cannot be negative; lower bound {low} raised to 0")
        return fit(draft, key, ours, {kind: [0.0, high, *args[2:]]}) if high > 0 else None
    if kind in ("quniform", "qloguniform", "qrandint"):
        return _aligned(draft, key, kind, low, high, args[2])
    return dsl


def _aligned(draft: Draft, key: str, kind: str, low: float, high: float, q: float) -> dict:
    """Ray's quantized ranges need bounds that are multiples of q (every value drawn is one anyway)."""
    lo = float(f"{math.ceil(low / q - 1e-9) * q:.10g}")
    hi = float(f"{math.floor(high / q + 1e-9) * q:.10g}")
    if kind == "qrandint":
        lo, hi = int(lo), int(hi)
    if hi <= lo:
        plain = {"quniform": "uniform", "qloguniform": "loguniform", "qrandint": "randint"}[kind]
        draft.note(key, f"no multiple of q={q} between {low:g} and {high:g} but one; {plain} without q")
        return {plain: [low, high]}
    if (lo, hi) != (low, high):
        draft.note(key, f"bounds [{low:g}, {high:g}] moved to the multiples of q={q} inside them, "
                        f"[{lo:g}, {hi:g}] (Ray's quantized ranges need them; every value drawn is one)")
    return {kind: [lo, hi, q]}


def _takes(ours: str) -> str:
    return {"optimizer": ", ".join(OPTIMIZERS), "finetune": ", ".join(FINETUNE), "dropout": "0 <= p < 1",
            "lr": "> 0", "hidden": "an integer > 0", "batch_size": "an integer > 0",
            "batch_norm": "true or false", "augment": "true or false"}.get(ours, ">= 0")


def place(draft: Draft, key: str, names: tuple[str, ...], dsl: Any, original: str | None = None) -> None:
    """Put one translated parameter into the draft's space (or its epochs into max_epochs), with notes.
    ``original``: the parameter's name as the file writes it (default ``names[0]``); every name that
    differs from the one written is noted (``renamed to lr``, ``renamed to max_epochs``)."""
    original = names[0] if original is None else original
    if any(is_epochs(n) for n in names):
        epochs(draft, key, original, _numbers_in(dsl), ranged=isinstance(dsl, dict))
        return
    ours = our_name(*names)
    if ours is None:
        draft.note(key, f"not a hyperparameter of the trainables cnn and resnet; left out (to tune it: {OWN_TRAINABLE})")
        return
    if ours in draft.space:
        draft.note(key, f"{ours} is already set by another parameter; this one is left out")
        return
    fitted = fit(draft, key, ours, dsl)
    if fitted is None:
        return
    if original != ours:
        draft.note(key, f"renamed to {ours}")
    draft.space[ours] = fitted


def epochs(draft: Draft, key: str, original: str, values: list, ranged: bool) -> None:
    """An epochs parameter: the budget ``max_epochs`` here (its largest value), not a hyperparameter; noted
    when renamed or drawn from a range, and when it holds no positive whole number (left out)."""
    top = max(values) if values else None
    if not isinstance(top, (int, float)) or isinstance(top, bool) or top < 1 \
            or (isinstance(top, float) and not math.isfinite(top)):
        draft.note(key, f"the epochs are the budget max_epochs here, and {original} holds no positive number; "
                        "left out (max_epochs: the default)")
        return
    draft.max_epochs = int(top)
    what = f"renamed to max_epochs {draft.max_epochs}" if original != "max_epochs" else f"max_epochs {draft.max_epochs}"
    if ranged:
        draft.note(key, f"{what} (its largest value): the budget here, not a hyperparameter; schedulers stop "
                        "weak trials early")
    elif original != "max_epochs":
        draft.note(key, f"{what}: the budget here, not a hyperparameter")


def _numbers_in(dsl: Any) -> list[float]:
    if isinstance(dsl, dict):
        (kind, args), = dsl.items()
        nums = [number(a) for a in args]
        return [a for a in (nums if kind in ("choice", "grid") else nums[:2]) if isinstance(a, (int, float))]
    value = number(dsl)
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
