"""The hyperparameters each built-in trainable takes, as typed pydantic models (no torch, no Ray).

One model per trainable, on a common base. The same model checks a space file's keys, ranges and constants
at ``validate`` time (:mod:`hwk4tune.spec.hyperparameters`) and a trial's config inside the trial
(:meth:`Hyperparameters.from_config`): an unknown key is an error in both places, never ignored — a
misspelled hyperparameter would otherwise tune nothing.

``fixed_while_training`` names the hyperparameters that fix the shape of the model or of the optimizer's
state: a checkpoint taken under one value cannot be loaded under another, so PBT and PB2 copy them from the
trial they clone and never mutate them (a mutated ``hidden`` made PBT's exploit fail with a shape mismatch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwk4tune.errors import InputError


class ConfigError(InputError, ValueError):
    """Bad hyperparameter values; the message names each key, its value and the rule."""


@dataclass(frozen=True)
class Optimizer:
    """What an ``optimizer:`` name builds (:func:`hwk4tune.learn.training.make_optimizer`; no torch here)."""

    torch_class: str  # its class in torch.optim
    momentum: bool = False  # takes the momentum hyperparameter


# the optimizers a config may name: the one list (the model's field, the training loop, the importers)
OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("SGD"),
    "momentum": Optimizer("SGD", momentum=True),  # SGD with momentum
    "adam": Optimizer("Adam"),
    "adagrad": Optimizer("Adagrad"),
}
FINETUNE = ("head", "layer4", "all")  # what of the ResNet trains: head, layer4 + head, all


class Hyperparameters(BaseModel):
    """What every built-in trainable takes: the optimizer and its settings, the batch, the seed."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    fixed_while_training: ClassVar[tuple[str, ...]] = ("optimizer",)

    optimizer: Literal[tuple(OPTIMIZERS)] = Field(  # type: ignore[valid-type]
        "adam", description="sgd, momentum (SGD with momentum), adam or adagrad")
    lr: float = Field(1e-3, gt=0, description="learning rate (of the first epoch under a schedule)")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="constant, or cosine: lr decays each epoch along a half cosine towards 0 at the "
                                "run's last epoch (the sweep's max_epochs, train's --epochs)")
    momentum: float = Field(0.9, ge=0, lt=1, description="momentum of the `momentum` optimizer (others ignore it)")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty, applied by the optimizer")
    l1: float = Field(0.0, ge=0, description="λ of the L1 penalty λ·Σ|w| added to the loss")
    batch_size: int = Field(64, gt=0, description="training mini-batch size")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="fp32, or bf16: mixed precision (autocast to bfloat16) where the device supports it "
                            "(a GPU without bf16 trains in fp32 and reports precision: fp32)")
    seed: int | None = Field(None, description="seed of initialization and shuffling; default: from the trial id")
    checkpoint_interval: int = Field(1, gt=0, description="epochs between checkpoints (the last epoch always saves)")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Hyperparameters":
        """Validate a trial's config; raise :class:`ConfigError` naming every bad key as ``key = value: rule``."""
        values = {k: _plain(v) for k, v in dict(config).items()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "config"
                shown = repr(values[key]) if key in values else "(missing)"
                rule = err["msg"]
                if err["type"] == "extra_forbidden":
                    rule = f"unknown hyperparameter (valid: {', '.join(cls.model_fields)})"
                problems.append(f"{key} = {shown}: {rule}")
            raise ConfigError(f"invalid hyperparameters for {cls.__name__}: " + "; ".join(problems)) from None


class CnnHyperparameters(Hyperparameters):
    """The seed's CNN: conv 1→16→32 (5×5, max-pool), a hidden layer with dropout, optional batch norm."""

    fixed_while_training: ClassVar[tuple[str, ...]] = ("optimizer", "hidden", "batch_norm")

    hidden: int = Field(256, gt=0, description="units of the hidden fully connected layer")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout before the output layer")
    batch_norm: bool = Field(False, description="batch norm after each convolution")


class ResNetHyperparameters(Hyperparameters):
    """torchvision's ResNet18 with a new head, fine-tuned."""

    fixed_while_training: ClassVar[tuple[str, ...]] = ("optimizer", "finetune")

    finetune: Literal[FINETUNE] = Field(  # type: ignore[valid-type]
        "head", description="what trains: head, layer4 + head, all")
    augment: bool = Field(True, description="random crop (padding 4) and horizontal flip of training images")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout before the new head")
    weights_path: str | None = Field(None, description="a local ResNet18 state dict to start from")
    pretrained: Literal["auto", "download", "none"] = Field(
        "auto", description="when weights_path is unset: auto (cached ImageNet weights if any), download, none")


def _plain(value: Any) -> Any:
    """numpy scalars (from searchers) -> Python scalars."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value
