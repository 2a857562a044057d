"""Clusters: Ray Job submission, storage that every node sees, a dashboard that is safe by default.

- :mod:`~hwk4tune.cluster.jobs`: :func:`submit` a sweep as a Ray Job, :func:`wait_for_job`;
- :mod:`~hwk4tune.cluster.storage`: :func:`check_storage` refuses, before any trial starts, storage that only
  one machine sees on a cluster of several nodes;
- :mod:`~hwk4tune.cluster.dashboard`: the URL, the token hint, the warning for an exposed dashboard;
- :mod:`~hwk4tune.cluster.auth`: where the token is, the headers, why a connection failed;
- :mod:`~hwk4tune.cluster.naming`: the names trial actors and driver jobs carry in the dashboard.
- :mod:`~hwk4tune.cluster.ray_versions`: the installed Ray, the supported range, what differs by version.

No Ray import at module level.
"""

from hwk4tune.cluster.auth import (
    ClusterError,
    auth_headers,
    auth_mode,
    connect_hint,
    read_token,
    token_hint,
    token_location,
)
from hwk4tune.cluster.dashboard import (
    announce_dashboard,
    dashboard_lines,
    dashboard_warning,
    is_loopback,
    warn_dashboard_host,
)
from hwk4tune.cluster.jobs import SubmittedJob, job_files, submit, wait_for_job
from hwk4tune.cluster.naming import job_config, job_name, name_trainable, trainable_name
from hwk4tune.cluster.ray_versions import SUPPORTED_TEXT, ray_version, supported_ray, token_auth_by_default
from hwk4tune.cluster.storage import (
    SHARED_ENV,
    StorageError,
    alive_node_count,
    check_storage,
    filesystem_type,
    storage_is_shared,
)

__all__ = [
    "StorageError", "ClusterError", "SubmittedJob", "SHARED_ENV", "is_loopback", "auth_mode",
    "token_location", "read_token", "auth_headers", "token_hint", "connect_hint", "dashboard_warning",
    "dashboard_lines", "announce_dashboard", "warn_dashboard_host", "filesystem_type", "storage_is_shared",
    "check_storage", "alive_node_count", "trainable_name", "job_name", "job_config", "name_trainable",
    "job_files", "submit", "wait_for_job", "SUPPORTED_TEXT", "ray_version", "supported_ray", "token_auth_by_default",
]
