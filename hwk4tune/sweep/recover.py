"""Finish the upload a killed driver cut short, before ``resume`` reads the experiment folder.

Ray Tune's driver writes its state (``experiment_state-*.json``, the searcher's state, every trial's
``result.json``) into a local staging folder (``<ray temp>/session_*/artifacts/<time>/NAME/driver_artifacts``)
and copies that folder into ``STORAGE/NAME`` every few seconds, file by file, in a background thread, while it
keeps writing. A SIGKILL leaves the storage copy behind and out of step with itself: the state may call a
trial TERMINATED (or record its last checkpoint) while that trial's ``result.json`` there still lacks its last
reports, so Tune skips it (or resumes it with nothing left to train) and the trial never ends — the trial
lost in issue 10. The staging folder outlives the kill on the driver's machine: its files newer than their
storage copies are copied over, as Ray's next sync would have done.
"""

from __future__ import annotations

import shutil
from pathlib import Path

STATE_GLOB = "experiment_state-*.json"


def _belongs(staging: Path, exp: Path) -> bool:
    """The staging folder is this experiment's: its state names this storage folder (pickled strings)."""
    needle = str(exp.parent).encode().hex()
    for f in staging.glob(STATE_GLOB):
        try:
            if needle in f.read_text():
                return True
        except OSError:
            continue
    return False


def staging_folders(exp: Path, ray_temp: Path) -> list[Path]:
    """This experiment's staging folders under Ray's temporary folder, oldest state first."""
    found = [p for p in ray_temp.glob(f"session_*/artifacts/*/{exp.name}/driver_artifacts")
             if any(p.glob(STATE_GLOB)) and _belongs(p, exp)]
    return sorted(found, key=lambda p: max(f.stat().st_mtime_ns for f in p.glob(STATE_GLOB)))


def finish_upload(exp: Path, ray_temp: Path) -> list[str]:
    """Copy the staged files newer than (or missing from) their copies in ``exp``; return the paths copied
    (relative). Files only: trials' checkpoints are written into storage by the trials themselves."""
    copied = []
    for staging in staging_folders(exp, ray_temp):
        for src in sorted(p for p in staging.rglob("*") if p.is_file()):
            rel = src.relative_to(staging)
            dst = exp / rel
            if dst.is_file() and dst.stat().st_mtime_ns >= src.stat().st_mtime_ns:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.recovering")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)  # atomic: a second kill leaves the old or the new file, never a torn one
            copied.append(rel.as_posix())
    return copied


def ray_temp_dir() -> Path | None:
    """Ray's temporary folder (``/tmp/ray`` unless configured) of the running Ray, if it is local."""
    try:
        import ray

        return Path(ray._private.worker._global_node.get_session_dir_path()).parent
    except Exception:  # noqa: BLE001 - a Ray Client connection has no local node
        return None
