"""Token authentication and connecting: where Ray's token is, the headers that carry it, and one line that
says why a connection failed (usually: token authentication off in this shell)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hwk4tune.cluster.ray_versions import SUPPORTED_TEXT, supported_ray, token_auth_by_default
from hwk4tune.errors import InputError


class ClusterError(InputError):
    """A cluster could not be reached or refused a request; ``str()`` is one line with the fix."""



def auth_mode() -> str:
    """``token`` or ``disabled``: what a cluster started from this environment uses. RAY_AUTH_MODE when set;
    else Ray 2.59+'s default, ``token`` (for ``ray.init()``; ``ray start`` uses it when a token exists), and
    ``disabled`` on Ray 2.55 to 2.58 (:mod:`~hwk4tune.cluster.ray_versions`)."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None:
        return mode.lower()
    return "token" if token_auth_by_default() else "disabled"


def token_location() -> str:
    """Where Ray reads the token from, in its order: ``$RAY_AUTH_TOKEN``, ``$RAY_AUTH_TOKEN_PATH``,
    ``~/.ray/auth_token``."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return os.environ["RAY_AUTH_TOKEN_PATH"]
    return str(Path("~/.ray/auth_token"))


def read_token() -> str | None:
    """The token Ray would send, or None."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token").expanduser()
    try:
        token = path.read_text().strip()
    except OSError:
        return None
    return token or None


def auth_headers() -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` when a token is found (Ray's clients only send it when
    ``RAY_AUTH_MODE=token`` is set in their own environment; we always send it)."""
    token = read_token()
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_hint() -> str:
    return (f"token: `ray get-auth-token` on the head node (stored in {token_location()}); "
            "paste it into the page once, it is kept as a cookie")


def connect_hint(address: str, exc: BaseException) -> str:
    """One line for a failed ``ray.init(address=…)``, naming the usual cause: token auth off in this shell."""
    chain, seen = [], exc
    while seen is not None:
        chain.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    text = " ".join(" ".join(chain).split())
    mismatch = re.search(r"Version mismatch: The cluster was started with: Ray: (\S+) Python: (\S+) "
                         r"This process .*? was started with: Ray: (\S+) Python: (\S+)", text)
    if mismatch:
        return version_mismatch_line(address, *mismatch.groups())
    if "ray client connection timeout" in text and auth_mode_set() != "token":  # the port answered (checked first)
        return (f"cannot connect to Ray at {address}: its Ray Client server answers but refused this session; if "
                f"the cluster uses token authentication (Ray 2.59+ turns it on where the head has a token), export "
                f"RAY_AUTH_MODE=token (the token is read from {token_location()})")
    if ("token" in text.lower() or "authentication" in text.lower()) and auth_mode_set() != "token":
        return (f"cannot connect to Ray at {address}: the cluster uses token authentication; "
                f"export RAY_AUTH_MODE=token (the token is read from {token_location()})")
    # a server-side traceback ends with what went wrong: keep its start and its end
    detail = text if len(text) <= 400 else f"{text[:150]} … {text[-250:]}"
    return f"cannot connect to Ray at {address} ({detail}); is it up? `ray status --address {address}`"


def version_mismatch_line(address: str, cluster_ray: str, cluster_python: str, our_ray: str, our_python: str) -> str:
    """One line for a cluster whose Ray (or Python minor version) differs from this environment's."""
    if cluster_ray != our_ray:
        supported = "supported" if supported_ray(cluster_ray) else f"not supported by hwk4tune ({SUPPORTED_TEXT})"
        return (f"cannot connect to Ray at {address}: the cluster runs Ray {cluster_ray}, this environment Ray "
                f"{our_ray}, and a driver's Ray must match the cluster's: pip install 'ray[tune,default]=="
                f"{cluster_ray}' here (Ray {cluster_ray} is {supported})")
    return (f"cannot connect to Ray at {address}: the cluster runs Python {cluster_python}, this environment "
            f"Python {our_python}; Ray needs the same Python minor version on both")


def auth_mode_set() -> str | None:
    """RAY_AUTH_MODE as set in this environment (None when unset)."""
    value = os.environ.get("RAY_AUTH_MODE")
    return value.lower() if value is not None else None


def env_prefix() -> str:
    """What the printed `ray job` commands need in front so that Ray's own CLI sends the token."""
    if read_token() and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return "RAY_AUTH_MODE=token "
    return ""

