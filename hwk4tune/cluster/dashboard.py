"""The Ray dashboard, safe by default: its URL and where the token comes from; a loud warning for a
dashboard bound to a non-loopback address while token authentication is disabled (CVE-2023-48022,
"ShadowRay")."""

from __future__ import annotations

import ipaddress
import sys

from hwk4tune.cluster.auth import auth_mode, auth_mode_set, token_hint
from hwk4tune.cluster.ray_versions import no_default_token_auth_note, ray_version_text


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``; anything else (0.0.0.0 above all) is reachable from outside."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False




def dashboard_warning(host: str, mode: str | None = None) -> str | None:
    """The warning to print before a dashboard binds to ``host``; None for loopback.

    Non-loopback with authentication disabled: a loud, multi-line WARNING (anyone who reaches the port can
    run code on the cluster). Non-loopback with token authentication: a one-line notice.
    """
    if is_loopback(host):
        return None
    mode = mode or auth_mode()
    if mode == "disabled":
        bar = "!" * 100
        by_default = auth_mode_set() is None  # Ray 2.55 to 2.58: off unless RAY_AUTH_MODE=token
        why = f"Ray {ray_version_text()}'s default" if by_default else "RAY_AUTH_MODE=disabled"
        return "\n".join([
            bar,
            f"WARNING: the Ray dashboard will listen on {host} with authentication DISABLED ({why}).",
            "Anyone who can reach this port can submit jobs and run any code on this machine and every node of",
            "the cluster (CVE-2023-48022, 'ShadowRay', exploited in the wild). Keep the default --dashboard-host",
            "127.0.0.1 and use an SSH tunnel (`ssh -L 8265:127.0.0.1:8265 HEAD`), or "
            + ("set RAY_AUTH_MODE=token to turn" if by_default else "unset RAY_AUTH_MODE to keep"),
            "token authentication on.",
            bar,
        ])
    return (f"notice: the Ray dashboard listens on {host}, reachable from the network; token authentication "
            "protects it, but the token travels in clear over http: prefer 127.0.0.1 and an SSH tunnel")


def dashboard_lines(url: str) -> list[str]:
    """What to print once a dashboard is up: the URL and how to get the token."""
    url = url if "://" in url else f"http://{url}"
    lines = [f"Ray dashboard: {url}"]
    if auth_mode() != "disabled":
        lines.append(f"  {token_hint()}")
    elif auth_mode_set() is None:  # Ray 2.55 to 2.58: no token authentication unless asked for
        lines.append(f"  {no_default_token_auth_note()}")
    return lines


def announce_dashboard(url: str, file=None) -> None:
    for line in dashboard_lines(url):
        print(f"hwk4tune: {line}" if not line.startswith(" ") else f"          {line.strip()}",
              file=file or sys.stderr, flush=True)


def warn_dashboard_host(host: str, file=None) -> None:
    text = dashboard_warning(host)
    if text:
        print(text, file=file or sys.stderr, flush=True)

