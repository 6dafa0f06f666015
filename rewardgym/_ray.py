"""Ray, imported and started in one place: a local instance on the loopback address, or a cluster joined.

Everything in rewardgym that uses Ray (the annotation service, env workers, sweeps) comes
through :func:`start_ray`, so a local instance always listens on 127.0.0.1 only and is always a
new one (``address="local"``: never a cluster that a stale file in ``/tmp/ray`` points to).
"""

from __future__ import annotations

from typing import Any

INSTALL_HINT = 'pip install "rewardgym[distributed]"'
LOOPBACK = "127.0.0.1"


def import_ray(purpose: str = "this") -> Any:
    """The ``ray`` module, or an ``ImportError`` saying what needs it and how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"{purpose} needs ray, which is not installed: {INSTALL_HINT}") from error
    return ray


def start_ray(address: str | None = None, num_cpus: float | None = None, purpose: str = "this") -> tuple[Any, bool]:
    """``(ray, started)``: Ray initialised — already running as it is; else a cluster joined (``address``),
    or with no address (or ``"local"``) a new local instance on 127.0.0.1 with ``num_cpus`` CPUs.
    ``started`` says whether this call started it (so the caller shuts it down)."""
    ray = import_ray(purpose)
    if ray.is_initialized():
        return ray, False
    if address in (None, "", "local"):
        ray.init(address="local", num_cpus=num_cpus, _node_ip_address=LOOPBACK, include_dashboard=False,
                 log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return ray, True


def error_cause(exc: BaseException) -> str:
    """What an actor raised, in one line: the last line of a Ray task or actor error's traceback, without
    its exception class (``"unknown reward 'nope'; ..."``)."""
    lines = [line for line in str(getattr(exc, "cause", None) or exc).splitlines() if line.strip()]
    last = lines[-1].strip() if lines else type(exc).__name__
    name, _, message = last.partition(": ")
    return message if message and name.endswith(("Error", "Exception")) else last


def actor_place() -> tuple[str, int]:
    """(Ray node id, process id) of the calling actor: where a worker runs, for logs and tests."""
    import os

    return import_ray().get_runtime_context().get_node_id(), os.getpid()
