"""Import sweeps written for other tools: W&B Sweeps and Katib Experiments -> a space and a sweep file.

``import_file("wandb" | "katib", FILE, OUT)`` writes ``OUT/space.yaml`` and ``OUT/sweep.yaml`` and returns
the notes: one line per key that could not be mapped exactly, saying why. Only a file that is not such a
sweep raises (:class:`NotASweep`, exit 2). What maps to what: docs/import.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwk4tune.importers.common import Draft, NotASweep, read

__all__ = ["import_file", "ImportResult", "NotASweep", "FORMATS"]

FORMATS = {"wandb": "W&B sweep", "katib": "Katib Experiment"}


@dataclass(frozen=True)
class ImportResult:
    space_file: Path
    sweep_file: Path
    notes: list[str]


def import_file(fmt: str, path: str | Path, out: str | Path) -> ImportResult:
    from hwk4tune.importers import katib, wandb
    from hwk4tune.importers.output import write

    if fmt not in FORMATS:
        raise NotASweep(f"{fmt}: unknown format (valid: {', '.join(FORMATS)})")
    data, text = read(path, FORMATS[fmt])
    draft = Draft(source=Path(path), kind=FORMATS[fmt], text=text)
    {"wandb": wandb, "katib": katib}[fmt].translate(data, draft)
    space_file, sweep_file = write(draft, out)
    return ImportResult(space_file, sweep_file, list(draft.notes))
