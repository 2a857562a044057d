"""Starting (or joining) Ray for a sweep, checking what it offers, and stopping what was started here."""

from __future__ import annotations

import os

from hwk4tune.spec import Problem, SpecError, SweepSpec
from hwk4tune.tune.console import quiet_early_stops


def ensure_ray(address: str | None = None, dashboard: bool = False, dashboard_host: str = "127.0.0.1",
               num_cpus: int | None = None, job_name: str | None = None, log_to_driver: bool = True) -> bool:
    """Reuse a running Ray (e.g. the tests' session-wide one), else start one: embedded and local when
    ``address`` is None, else connect (``auto``, ``ray://host:10001``). True when this call started it.
    ``log_to_driver=False`` keeps the trials' own output in Ray's log files only."""
    import ray

    from hwk4tune.cluster import ClusterError, announce_dashboard, connect_hint, job_config, warn_dashboard_host

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # forced snapshots when trials checkpoint every (short) epoch are expected here, not a problem
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    config = job_config(job_name)  # the dashboard's Jobs view shows its name
    if address is None:
        if dashboard:
            warn_dashboard_host(dashboard_host)  # before it binds
        # A bare ray.init() joins the cluster that /tmp/ray/ray_current_cluster names (another user's
        # `ray start`, or a dead one it then waits on): "local" always starts our own. Inside a Ray Job
        # (`hwk4tune submit`) RAY_ADDRESS names the job's cluster, and that one is used.
        local = None if os.environ.get("RAY_ADDRESS") else "local"
        ctx = ray.init(address=local, num_cpus=num_cpus, include_dashboard=dashboard,
                       dashboard_host=dashboard_host, configure_logging=False, job_config=config,
                       log_to_driver=log_to_driver)
    else:
        try:
            ctx = ray.init(address=address, configure_logging=False, job_config=config,
                           log_to_driver=log_to_driver)
        except ConnectionError as exc:
            raise ClusterError(connect_hint(address, exc)) from None
    if dashboard or address is not None:
        try:
            url = getattr(ctx, "dashboard_url", None) or ray.get_runtime_context().dashboard_url
        except Exception:  # noqa: BLE001 - Ray Client contexts may not know it
            url = None
        if url:
            announce_dashboard(url)
    return True


def check_resources(spec: SweepSpec, address: str | None) -> None:
    """A trial that asks for more than the whole local machine has would wait forever: refuse it."""
    import ray

    if address is not None:  # a cluster may autoscale; Ray tells the user itself
        return
    total = ray.cluster_resources()
    res = spec.resources_per_trial
    for key, want in (("cpu", res.cpu), ("gpu", res.gpu)):
        have = total.get(key.upper(), 0)
        if want > have:
            raise SpecError([Problem(str(spec.source or "(sweep)"), None, f"resources_per_trial.{key}",
                                     f"each trial asks for {want:g} {key}, but this machine's Ray has {have:g}")])


def shutdown(started: bool) -> None:
    """Stop the Ray this sweep started; the worker log lines Ray flushes on the way out are filtered too."""
    if started:
        import ray

        with quiet_early_stops():
            ray.shutdown()
