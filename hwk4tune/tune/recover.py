"""Finish the upload a killed driver cut short, before ``resume`` reads the experiment folder.

Ray Tune's driver writes its state (``experiment_state-*.json``, the searcher's state, every trial's
``result.json``) into a local staging folder (``<ray temp>/session_*/artifacts/<time>/NAME/driver_artifacts``)
and copies that folder into ``STORAGE/NAME`` every few seconds, file by file, in a background thread, while it
keeps writing. A SIGKILL leaves the storage copy behind and out of step with itself: the state may call a
trial TERMINATED (or record its last checkpoint) while that trial's ``result.json`` there still lacks its last
reports, so Tune skips it (or resumes it with nothing left to train) and the trial never ends — the trial
lost in issue 10. The staging folder outlives the kill on the driver's machine: its files newer than their
storage copies are copied over, as Ray's next sync would have done (:func:`finish_upload`).

Even a complete copy can name a checkpoint that is gone: Tune saves its state every few seconds at most,
while the driver deletes a trial's older checkpoints (``num_to_keep``) as soon as newer ones arrive; a state
saved before that names a deleted one, and restoring from it fails (``Could not recover from checkpoint as
it does not exist on storage anymore``), the trial ends in ERROR. :func:`repair_state` points such a trial at
its newest checkpoint on disk, and records a trial whose ``result.json`` ends with its last report as
finished. It reads Ray 2.x's private bookkeeping (``_CheckpointManager``) through
:mod:`hwk4tune.tune._ray_private`: pinned with the Ray series.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hwk4tune.store.tune_files import STATE_GLOB
from hwk4tune.tune import _ray_private


def _belongs(staging: Path, exp: Path) -> bool:
    """The staging folder is this experiment's, not an earlier one's at the same path: its state names this
    storage folder (pickled strings), has the name of the state in ``exp`` (a run and its resumes keep it),
    or, where ``exp`` has none yet, was written after ``exp``'s ``hwk4tune.json`` (written before Tune starts)."""
    needle = str(exp.parent).encode().hex()
    names = {f.name for f in exp.glob(STATE_GLOB)}
    record = exp / "hwk4tune.json"
    born = record.stat().st_mtime_ns if record.is_file() else None
    for f in staging.glob(STATE_GLOB):
        try:
            if needle not in f.read_text():
                continue
            if f.name in names if names else (born is not None and f.stat().st_mtime_ns > born):
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
            if dst.is_file() and dst.stat().st_mtime_ns >= src.stat().st_mtime_ns or _torn_state(src):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.recovering")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)  # atomic: a second kill leaves the old or the new file, never a torn one
            copied.append(rel.as_posix())
    return copied


def _torn_state(path: Path) -> bool:
    """A staged ``experiment_state-*.json`` that does not parse: Tune writes it in place (``json.dump`` into the
    open file, Ray 2.55 to 2.60), so a kill during the write leaves it cut short; the copy in ``exp`` (the
    previous, complete one) is kept instead."""
    import json

    if not path.match(STATE_GLOB):
        return False
    try:
        json.loads(path.read_text())
    except (ValueError, OSError):
        return True
    return False


def ray_temp_dir() -> Path | None:
    """Ray's temporary folder (``/tmp/ray`` unless configured) of the running Ray, if it is local."""
    try:
        import ray

        return Path(ray.get_runtime_context().get_temp_dir())
    except Exception:  # noqa: BLE001 - a Ray Client connection has no local node
        return None


def _rows(trial_dir: Path) -> list[dict]:
    from hwk4tune.store.tune_files import read_json_lines

    return read_json_lines(trial_dir / "result.json")


def _repair_trial(exp: Path, json_state: dict, metadata: dict) -> str | None:
    """Fix one unfinished trial's record in place; say what was done (None: nothing)."""
    trial_dir = exp / (json_state.get("relative_logdir") or "")
    if not json_state.get("relative_logdir") or not trial_dir.is_dir():
        return None
    rows = _rows(trial_dir)
    if rows and rows[-1].get("done") and not (trial_dir / "error.txt").is_file():
        json_state["status"] = "TERMINATED"
        return f"{trial_dir.name} had ended (its result.json says so) after Tune last saved its state: kept as finished"
    manager = metadata.get("checkpoint_manager")
    latest = _ray_private.latest_checkpoint_result(manager)
    if latest is None or latest.checkpoint is None:
        return None
    if (trial_dir / Path(latest.checkpoint.path).name).is_dir():
        return None
    return _point_at_newest_checkpoint(trial_dir, rows, manager, latest)


def _point_at_newest_checkpoint(trial_dir: Path, rows: list[dict], manager, latest) -> str:
    """The checkpoint Tune recorded for a trial is gone: record its newest one on disk instead (or none)."""
    saved_by = {r.get("checkpoint_dir_name"): r for r in rows if r.get("checkpoint_dir_name")}
    on_disk = sorted(p.name for p in trial_dir.glob("checkpoint_*") if p.is_dir() and p.name in saved_by)
    kept = [r for r in _ray_private.checkpoint_results(manager)
            if r.checkpoint is not None and (trial_dir / Path(r.checkpoint.path).name).is_dir()]
    if not on_disk:
        _ray_private.set_checkpoint_results(manager, kept, None)
        return f"{trial_dir.name}: the checkpoint Tune recorded is gone and none other is known: it starts over"
    name = on_disk[-1]
    ckpt = type(latest.checkpoint)(path=str(Path(latest.checkpoint.path).with_name(name)),
                                   filesystem=latest.checkpoint.filesystem)
    newest = _ray_private.checkpoint_result(ckpt, saved_by[name])
    _ray_private.set_checkpoint_results(manager, [r for r in kept if Path(r.checkpoint.path).name != name] + [newest],
                                        newest)
    return (f"{trial_dir.name}: the checkpoint Tune recorded ({Path(latest.checkpoint.path).name}) was deleted after "
            f"Tune last saved its state: it goes on from {name}, its newest")


def repair_state(exp: Path) -> list[str]:
    """Make the newest ``experiment_state-*.json`` in ``exp`` agree with the trial folders (see the module's
    text); return one line per trial changed. The file is replaced atomically, and only when changed."""
    import json

    from ray.tune.utils.serialization import TuneFunctionEncoder

    files = sorted(exp.glob(STATE_GLOB), key=lambda f: f.stat().st_mtime_ns)
    if not files:
        return []
    state_file = files[-1]
    state = json.loads(state_file.read_text())
    notes = []
    for item in state.get("trial_data", []):
        json_state = json.loads(item[0])
        if json_state.get("status") in ("TERMINATED", "ERROR"):
            continue
        # Tune's own record, which Tuner.restore unpickles just after this in any case (the same trust)
        metadata = _ray_private.load_tune_json(item[1])  # Ray 2.55 and 2.56+ differ here
        note = _repair_trial(exp, json_state, metadata)
        if note:
            item[0] = json.dumps(json_state, indent=2)
            item[1] = json.dumps(metadata, cls=TuneFunctionEncoder)
            notes.append(note)
    if notes:
        tmp = state_file.with_name(f".{state_file.name}.repairing")
        tmp.write_text(json.dumps(state))
        tmp.replace(state_file)
    return notes


# Tune saves a searcher's state under "name:<its class>": Ray's limiter, and hwk4tune.tune.hyperband's (HyperBand sweeps)
LIMITER_KEYS = ("name:ConcurrencyLimiter", "name:PausableLimiter")


def release_finished_trials(exp: Path) -> list[str]:
    """Free the searcher's concurrency slots still held by trials Tune's state says ended.

    Tune saves the searcher's state (``search_gen_state-*.json``) and the trials' (``experiment_state-*.json``)
    at different moments: a driver killed between a trial's end and the next searcher save leaves the
    ``ConcurrencyLimiter`` counting that trial as live. Resumed, Tune never ends it again, so the slot is never
    freed: with ``max_concurrent_trials: 1`` the resumed sweep waited forever (a CI run's kill test, 15 min).
    Returns one line per trial released; the file is replaced atomically, and only when changed.
    """
    import json
    import pickle

    trials = [json.loads(item[0]) for f in exp.glob(STATE_GLOB) for item in json.loads(f.read_text()).get("trial_data", [])]
    ended = {t.get("trial_id") for t in trials if t.get("status") in ("TERMINATED", "ERROR")}
    released: set[str] = set()
    for search_file in sorted(exp.glob("search_gen_state-*.json")):
        state = pickle.loads(search_file.read_bytes())  # Tune's own pickle, which Tuner.restore loads just after
        limiter = next((state[k] for k in LIMITER_KEYS if k in state), None) if isinstance(state, dict) else None
        stale = set(limiter.get("live_trials") or ()) & ended if isinstance(limiter, dict) else set()
        if not stale:
            continue
        limiter["live_trials"] = set(limiter["live_trials"]) - stale
        limiter["num_unfinished_live_trials"] = max(0, limiter.get("num_unfinished_live_trials", 0) - len(stale))
        tmp = search_file.with_name(f".{search_file.name}.repairing")
        tmp.write_bytes(pickle.dumps(state))
        tmp.replace(search_file)
        released |= stale
    return [f"trial {t} had ended, but the searcher's saved state still counted it as running: released"
            for t in sorted(released)]
