"""Ray, imported and started in one place: a local instance on the loopback address, or a cluster joined.

Everything in rewardgym that uses Ray (the annotation service, env workers, sweeps) comes
through :func:`start_ray`, so a local instance always listens on 127.0.0.1 only and is always a
new one (``address="local"``: never a cluster that a stale file in ``/tmp/ray`` points to).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
    elif is_loopback(address):  # a cluster on this machine's loopback (ray start --node-ip-address 127.0.0.1)
        stay_on_loopback()
        ray.init(address=address, _node_ip_address=LOOPBACK, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return ray, True


def is_loopback(address: str) -> bool:
    """Whether a ``host:port`` cluster address names this machine's loopback."""
    if address.startswith("ray://"):  # Ray Client: a proxy connection, not a node of this machine joining
        return False
    return address.rpartition(":")[0] in (LOOPBACK, "localhost")


def stay_on_loopback() -> tuple[str | None, bool]:
    """Keep Ray on 127.0.0.1 when joining a cluster by a loopback address.

    Ray rewrites a loopback address to the machine's outward address before connecting (so that
    other machines could reach it) unless clusters are switched off by its own setting,
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (read at import: set here in the environment for the
    processes Ray starts, and on the imported constant for this one). Nodes started with
    ``--node-ip-address 127.0.0.1`` then find each other on the loopback and nothing else.
    Returns the setting's previous state (the variable, the constant).
    """
    import os

    from ray._private import ray_constants

    before = os.environ.get(ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    return before


@contextlib.contextmanager
def loopback_cluster(num_nodes: int = 2, num_cpus: float = 1, connect: bool = True,
                     purpose: str = "a local cluster") -> Iterator[str]:
    """A Ray cluster of ``num_nodes`` nodes on this machine, every one on 127.0.0.1; yields its address
    (``127.0.0.1:PORT``, what ``--ray`` joins), with this process connected to it unless ``connect`` is
    False. Node ``i`` has ``num_cpus`` CPUs and a resource ``node_i`` of 1 (to pin work to it). For
    tests, and for trying multi-node placement on one machine."""
    ray = import_ray(purpose)
    from ray.cluster_utils import Cluster

    before = stay_on_loopback()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": num_cpus, "node_ip_address": LOOPBACK, "resources": {"node_0": 1}, "include_dashboard": False})
    try:
        for i in range(1, num_nodes):
            cluster.add_node(num_cpus=num_cpus, node_ip_address=LOOPBACK, resources={f"node_{i}": 1})
        cluster.wait_for_nodes()
        if connect:
            ray.init(address=cluster.address, _node_ip_address=LOOPBACK, log_to_driver=False)
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()
        _restore_cluster_setting(*before)


def _restore_cluster_setting(variable: str | None, constant: bool) -> None:
    import os

    from ray._private import ray_constants

    if variable is None:
        os.environ.pop(ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR, None)
    else:
        os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = variable
    ray_constants.ENABLE_RAY_CLUSTER = constant


PLACEMENTS = {"spread": "SPREAD", "pack": "PACK", "strict-spread": "STRICT_SPREAD"}  # --ray-placement: Ray's names


class PlacementError(ValueError):
    """The workers cannot be placed as asked (:class:`Placement`): an unknown strategy, or a cluster that
    cannot hold them."""


class Placement:
    """Resources for ``count`` workers reserved at once (a Ray placement group, one bundle per worker).

    ``strategy``: ``"spread"`` puts the workers on as many nodes as it can (Ray's ``SPREAD``),
    ``"pack"`` on as few (``PACK``), ``"strict-spread"`` each on a node of its own
    (``STRICT_SPREAD``). All or nothing: when the cluster cannot hold every bundle within
    ``timeout`` seconds, a :class:`PlacementError` (a ValueError) says what was asked and what is
    free, and nothing is held.
    A worker that dies frees its bundle, and its replacement starts in the same one.
    """

    def __init__(self, ray: Any, count: int, num_cpus: float, num_gpus: float = 0.0, strategy: str = "spread",
                 timeout: float = 300.0, what: str = "workers"):
        if strategy not in PLACEMENTS:
            raise PlacementError(f"placement must be one of {', '.join(PLACEMENTS)}, got {strategy!r}")
        if num_cpus <= 0 and num_gpus <= 0:
            raise PlacementError("a worker must ask for some CPUs or GPUs")
        from ray.util.placement_group import placement_group

        self.group = None
        bundle = {"CPU": float(num_cpus), **({"GPU": float(num_gpus)} if num_gpus else {})}
        asked = " and ".join(f"{amount:g} {kind}" for kind, amount in bundle.items())
        problem = f"the cluster cannot place {count} {what} asking for {asked} each ({strategy})"
        nodes = sum(node["Alive"] for node in ray.nodes())
        total = ray.cluster_resources()
        if any(total.get(kind, 0.0) < amount * count for kind, amount in bundle.items()) or (
                strategy == "strict-spread" and nodes < count):  # never, as the cluster stands: say so now
            raise PlacementError(f"{problem}: it has {_resources(total)} on {nodes} nodes in all")
        self.group = placement_group([bundle] * count, strategy=PLACEMENTS[strategy])
        if not self.group.wait(timeout_seconds=timeout):  # the resources exist, but others hold them
            free = ray.available_resources()
            self.remove()
            raise PlacementError(f"{problem} within {timeout:g} s; free now: {_resources(free)} on {nodes} nodes")

    def options(self, index: int) -> dict[str, Any]:
        """``.options(**...)`` of the actor that runs in bundle ``index``."""
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        return {"scheduling_strategy": PlacementGroupSchedulingStrategy(self.group,
                                                                        placement_group_bundle_index=index)}

    def remove(self) -> None:
        from ray.util.placement_group import remove_placement_group

        if self.group is not None:
            with contextlib.suppress(Exception):  # Ray already gone
                remove_placement_group(self.group)
            self.group = None


def _resources(amounts: dict[str, float]) -> str:
    return f"{amounts.get('CPU', 0.0):g} CPUs, {amounts.get('GPU', 0.0):g} GPUs"


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
