"""A model that ``hwk4tune train`` wrote, to use: :func:`load_model` and :func:`evaluate`.

``OUT/model.pt`` holds the weights and what is needed to rebuild and feed the model: the trainable, its
hyperparameters, the input shape (C, H, W), the number of classes, and the per-channel mean and std of the
training split (of raw pixels in [0, 1]). ``OUT/config.yaml`` names the data set it was trained on.

    import hwk4tune
    m = hwk4tune.load_model("out/")          # or "out/model.pt", or s3://bucket/prefix (read through a local copy)
    labels = m.predict(images)               # images: N x C x H x W floats in [0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwk4tune.errors import InputError
from hwk4tune.store.records import is_uri


class ModelFileError(InputError, ValueError):
    """A folder or file that holds no model of ``hwk4tune train``."""


@dataclass
class TrainedModel:
    """``model``: the ``torch.nn.Module`` in eval mode (CPU); ``mean``/``std``: per channel, applied by
    :meth:`preprocess`; ``input_shape``: (C, H, W); ``config``: the hyperparameters; ``trainable``,
    ``dataset``: what it is and what it was trained on; ``test_accuracy``: what ``train`` measured."""

    model: Any
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_shape: tuple[int, int, int]
    num_classes: int
    config: dict[str, Any]
    trainable: str
    dataset: str
    test_accuracy: float | None
    path: Path

    def preprocess(self, images):
        """N x C x H x W floats in [0, 1] -> normalized as in training."""
        import torch

        x = torch.as_tensor(images, dtype=torch.float32)
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"images must be N x {' x '.join(map(str, self.input_shape))}, got {tuple(x.shape)}")
        mean = torch.tensor(self.mean)[None, :, None, None]
        std = torch.tensor(self.std)[None, :, None, None]
        return (x - mean) / std

    def logits(self, normalized, batch_size: int = 512):
        """Logits of already normalized images (as ``hwk4tune.learn.data.load_dataset`` gives them)."""
        import torch

        with torch.no_grad():
            return torch.cat([self.model(normalized[i:i + batch_size]) for i in range(0, len(normalized), batch_size)])

    def predict(self, images):
        """Class indices of N x C x H x W images in [0, 1]."""
        return self.logits(self.preprocess(images)).argmax(dim=1)


def model_file(path: str | Path) -> Path:
    """``model.pt`` of the folder ``path``, or ``path`` itself; a URI (``s3://…``, the folder or its model.pt)
    is copied to its local mirror first, the model's config.yaml with it."""
    p = _local(str(path)) if is_uri(path) else Path(path).expanduser()
    f = p / "model.pt" if p.is_dir() else p
    if not f.is_file():
        raise ModelFileError(f"{path}: no model.pt (give the --out folder of `hwk4tune train`, or its model.pt)")
    return f


def _local(uri: str) -> Path:
    """The local copy of the remote model folder ``uri``, or of its file and the config.yaml beside it."""
    from hwk4tune.store.remote import local_copy

    local = local_copy(uri, file_ok=True)
    if local.is_file():  # model.pt given: evaluate reads the config.yaml beside it
        local_copy(f"{uri.rstrip('/').rsplit('/', 1)[0]}/config.yaml", file_ok=True, missing_ok=True)
    return local


def load_model(path: str | Path) -> TrainedModel:
    """The model ``hwk4tune train`` wrote into ``path`` (its folder or ``model.pt``, local or a storage URI such
    as ``s3://bucket/prefix``), in eval mode on the CPU."""
    import torch

    from hwk4tune.learn.models import build_model
    from hwk4tune.registry import trainable_entry

    f = model_file(path)
    state = torch.load(f, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state or "trainable" not in state:
        raise ModelFileError(f"{f}: not a model.pt of `hwk4tune train`")
    model_cls = trainable_entry(state["trainable"]).hyperparameters
    config = {k: v for k, v in state["config"].items() if k not in ("pretrained", "weights_path")}
    cfg = model_cls.from_config({**config, **({"pretrained": "none"} if "pretrained" in model_cls.model_fields else {})})
    model, _ = build_model(state["trainable"], cfg, tuple(state["input_shape"]), state["num_classes"])
    model.load_state_dict(state["model"])
    return TrainedModel(model=model.eval(), mean=tuple(state["mean"]), std=tuple(state["std"]),
                        input_shape=tuple(state["input_shape"]), num_classes=int(state["num_classes"]),
                        config=dict(state["config"]), trainable=state["trainable"], dataset=state["dataset"],
                        test_accuracy=state.get("test_accuracy"), path=f)


def evaluate(path: str | Path, dataset: str | None = None, data_dir: str | Path | None = None,
             subset: int | str | None = None) -> dict[str, Any]:
    """Test accuracy and confusion matrix (rows: true class, columns: predicted) of a trained model on the
    test split of the data set it was trained on (as ``config.yaml`` beside it names it), or of ``dataset``.
    ``data_dir`` overrides where the data set is; ``subset`` how many test images (the first ones; ``"all"``:
    every one, whatever subset the model was trained on)."""
    import torch

    from hwk4tune.learn.data import load_dataset
    from hwk4tune.spec.source import load_yaml

    m = load_model(path)
    ds: dict[str, Any] = {"name": m.dataset}
    config_yaml = m.path.parent / "config.yaml"
    if config_yaml.is_file():
        ds = (load_yaml(config_yaml.read_text(), str(config_yaml)) or {}).get("dataset") or ds
    if dataset:
        ds = {"name": dataset}
    if data_dir:
        ds["data_dir"] = data_dir
    if subset is not None:
        ds["subset"] = None if subset == "all" else subset
    data = load_dataset(ds["name"], subset=ds.get("subset"), data_dir=ds.get("data_dir"),
                        val_fraction=ds.get("val_fraction", 0.1), seed=ds.get("seed", 0))
    if tuple(data.test_x.shape[1:]) != m.input_shape:
        raise ModelFileError(f"{ds['name']} images are {tuple(data.test_x.shape[1:])}, the model takes "
                             f"{m.input_shape}")
    # the model's own preprocessing: back to [0, 1] pixels with the data set's statistics, then the model's
    raw = data.test_x * torch.tensor(data.std)[None, :, None, None] + torch.tensor(data.mean)[None, :, None, None]
    predicted = m.logits(m.preprocess(raw)).argmax(dim=1)
    n = max(m.num_classes, int(data.test_y.max()) + 1)
    confusion = torch.zeros((n, n), dtype=torch.long)
    confusion.index_put_((data.test_y.long(), predicted), torch.ones_like(predicted), accumulate=True)
    return {"dataset": ds["name"], "images": len(data.test_y),
            "test_accuracy": float((predicted == data.test_y).float().mean()),
            "confusion": confusion.tolist(), "trained_test_accuracy": m.test_accuracy}


def confusion_text(confusion: list[list[int]]) -> str:
    """The confusion matrix as aligned text: rows true class, columns predicted class."""
    n = len(confusion)
    width = max(3, len(str(max((max(r) for r in confusion), default=0))))
    head = "true\\pred " + " ".join(f"{j:>{width}}" for j in range(n))
    rows = [f"{i:>9} " + " ".join(f"{v:>{width}}" for v in row) for i, row in enumerate(confusion)]
    return "\n".join([head, *rows])
