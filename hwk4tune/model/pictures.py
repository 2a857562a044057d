"""Pictures of a model's first convolutional layer: one cell per filter (RGB for 3 input channels,
grayscale for 1, the channel mean otherwise), and for two models side by side a third panel with each
filter's change (the L2 norm of the difference, as brightness and as a number). The picture has a title
naming the layer, a title per panel (the model, or the change) and axis labels naming the grid.

A model is a folder written by ``hwk4tune train`` (its ``model.pt``), such a ``model.pt``, or a plain
state-dict file (``.pth``, e.g. torchvision's ResNet18 weights). Its first layer is the first 4-D weight
tensor of the state dict (``conv1.weight`` for ResNet18). The panels are built with NumPy, one weight
``zoom`` pixels, and drawn with matplotlib, so the picture's size follows from the layer: see :func:`grid_layout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwk4tune.errors import InputError

PAD = 2  # pixels between cells and around a panel
GAP = 12  # pixels between panels
DPI = 100  # the figure's pixels per inch: a weight is `zoom` pixels
MIN_WIDTH = 460  # pixels: the title's width
# a trial's curve by why it stopped (results.stop_reasons)
STOP_COLOURS = {"finished": "tab:green", "scheduler": "tab:orange", "plateau": "tab:blue", "target": "tab:purple",
                "budget": "tab:brown", "error": "tab:red", "diverged": "tab:pink", "not started": "tab:gray"}


class PictureError(InputError):
    """A model file the picture cannot be made from."""


@dataclass(frozen=True)
class FiltersPicture:
    path: Path
    filters: int  # cells per panel: the first layer's output channels
    grid: tuple[int, int]  # (rows, cols) of each panel
    panels: int  # 1 for one model; 3 for two (before, after, change)
    size: tuple[int, int]  # (width, height) in pixels, title and labels included
    change: list[float] | None  # per-filter L2 norm of the difference (two models)


def first_conv_weight(source: str | Path) -> np.ndarray:
    """The first convolutional layer's weights, ``[filters, channels, h, w]``, of a model folder or file."""
    import torch

    path = Path(source)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise PictureError(f"{source}: no such model (a folder written by `hwk4tune train`, a model.pt or a "
                           "state-dict .pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line for the user
        raise PictureError(f"{path}: not a torch file ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # hwk4tune train's model.pt
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise PictureError(f"{path}: expected a state dict, got {type(state).__name__}")
    for value in state.values():
        if hasattr(value, "dim") and value.dim() == 4:
            return value.detach().float().numpy()
    raise PictureError(f"{path}: no convolutional layer (no 4-D weight) in its state dict")


def grid_layout(filters: int) -> tuple[int, int]:
    """(rows, cols) of a panel: as square as possible, cols >= rows."""
    cols = math.ceil(math.sqrt(filters))
    return math.ceil(filters / cols), cols


def _cells(weight: np.ndarray) -> np.ndarray:
    """``[filters, h, w, 3]`` in [0, 1]: each filter scaled by its own min and max."""
    if weight.shape[1] == 3:
        img = weight.transpose(0, 2, 3, 1)
    else:
        img = np.repeat(weight.mean(axis=1)[..., None], 3, axis=-1)  # 1 channel: grayscale
    low = img.min(axis=(1, 2, 3), keepdims=True)
    high = img.max(axis=(1, 2, 3), keepdims=True)
    return (img - low) / np.where(high > low, high - low, 1.0)


def _panel(cells: np.ndarray, rows: int, cols: int, zoom: int) -> np.ndarray:
    n, h, w, _ = cells.shape
    ch, cw = h * zoom, w * zoom
    out = np.ones((rows * (ch + PAD) + PAD, cols * (cw + PAD) + PAD, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        big = cells[i].repeat(zoom, axis=0).repeat(zoom, axis=1)
        out[PAD + r * (ch + PAD):PAD + r * (ch + PAD) + ch, PAD + c * (cw + PAD):PAD + c * (cw + PAD) + cw] = big
    return out


def _kind(channels: int) -> str:
    return {3: "RGB", 1: "grayscale"}.get(channels, f"mean of {channels} channels")


def filters_figure(weights: list[np.ndarray], names: list[str], *, zoom: int):
    """The matplotlib figure of :func:`write_filters`: a title naming the layer, one panel per model (its
    name above it) and, for two, a third panel of each filter's change. Every panel's axes name the grid:
    the row's first filter on the left, the column below (filter = first of the row + column). The figure is
    sized so that one weight is ``zoom`` pixels at :data:`DPI`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, channels, h, w = weights[0].shape
    rows, cols = grid_layout(n)
    panels = [_panel(_cells(wt), rows, cols, zoom) for wt in weights]
    titles = [f"before: {names[0]}", f"after: {names[1]}"] if len(weights) == 2 else [names[0]]
    change = None
    if len(weights) == 2:
        change = [float(np.linalg.norm(a - b)) for a, b in zip(weights[0], weights[1])]
        level = np.array(change) / (max(change) or 1.0)
        panels.append(_panel(np.broadcast_to(level[:, None, None, None], (n, h, w, 3)).copy(), rows, cols, zoom))
        titles.append("change: L2 norm of the difference")
    ph, pw = panels[0].shape[:2]
    # room around the panels for the title, the panel titles, the tick labels and the axis labels
    left, right, top, bottom = 80, 20, 84, 60
    content = len(panels) * pw + (len(panels) - 1) * (GAP + left) + left + right
    width, height = max(content, MIN_WIDTH), ph + top + bottom  # a narrow layer still shows the whole title
    margin = (width - content) // 2
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ch, cw = h * zoom, w * zoom
    centres_x = [PAD + c * (cw + PAD) + cw / 2 for c in range(cols)]
    centres_y = [PAD + r * (ch + PAD) + ch / 2 for r in range(rows)]
    for k, (panel, title) in enumerate(zip(panels, titles)):
        x0 = margin + left + k * (pw + GAP + left)
        ax = fig.add_axes((x0 / width, bottom / height, pw / width, ph / height))
        ax.imshow(panel, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(centres_x, [str(c) for c in range(cols)], fontsize=7)
        ax.set_yticks(centres_y, [str(r * cols) for r in range(rows)], fontsize=7)
        ax.set_xlabel("column (filter = row's first + column)", fontsize=8)
        ax.set_ylabel("row's first filter", fontsize=8)
        ax.tick_params(length=0)
        if change is not None and k == 2:
            size = max(4.0, min(9.0, cw / 4.5))
            for i, value in enumerate(change):
                r, c = divmod(i, cols)
                ax.text(centres_x[c], centres_y[r], f"{value:.2g}", ha="center", va="center", fontsize=size,
                        color="black" if value / (max(change) or 1.0) > 0.5 else "white")
    fig.suptitle(f"first convolutional layer: {n} filters of {channels}×{h}×{w} ({_kind(channels)})\n"
                 "each filter scaled to its own range", fontsize=10, y=1 - 8 / height, va="top")
    return fig, change


def write_filters(models: list[str | Path], out: str | Path, *, zoom: int | None = None) -> FiltersPicture:
    """Write the PNG of one model's first-layer filters, or of two side by side with their change; its title
    is also the PNG's ``Title`` text."""
    import matplotlib.pyplot as plt

    if len(models) not in (1, 2):
        raise PictureError(f"give one or two models, got {len(models)}")
    weights = [first_conv_weight(m) for m in models]
    if len(weights) == 2 and weights[0].shape != weights[1].shape:
        raise PictureError(f"the first layers differ in shape: {weights[0].shape} vs {weights[1].shape}")
    n, _, h, w = weights[0].shape
    zoom = zoom or max(1, 48 // max(h, w))
    fig, change = filters_figure(weights, [_model_name(m) for m in models], zoom=zoom)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI, metadata={"Title": fig.get_suptitle()})
    size = fig.canvas.get_width_height()
    plt.close(fig)
    return FiltersPicture(out, n, grid_layout(n), len(weights) + (change is not None), size, change)


def _model_name(model: str | Path) -> str:
    """A model as its panel names it: the folder or file name (``ft``, ``before.pth``)."""
    path = Path(model)
    return path.parent.name if path.name == "model.pt" and path.parent.name else path.name


def validation_curves_png(history, reasons: dict[str, str], metric: str, out: str | Path) -> Path:
    """Every trial's ``metric`` per epoch on one plot, coloured by why the trial stopped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = STOP_COLOURS
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    seen = set()
    for trial_id, rows in history.groupby("trial_id", sort=True):
        if metric not in rows:
            continue
        rows = rows.sort_values("epoch")
        reason = reasons.get(trial_id) or "other"
        ax.plot(rows["epoch"], rows[metric], color=colours.get(reason, "tab:gray"), alpha=0.8, marker=".",
                label=None if reason in seen else reason)
        seen.add(reason)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} of every trial, by why it stopped")
    if seen:
        ax.legend(title="stopped by")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
