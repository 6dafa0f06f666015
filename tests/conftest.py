"""Suite-wide settings."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The agents' networks in these tests are tiny: one thread is fastest, and a second thread
    that waits for a busy core slows updates down tenfold on a shared 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory):
    """GGUF models are converted once per session into a private cache, never into the user's home."""
    import os

    previous = os.environ.get("REWARDGYM_CACHE")
    os.environ["REWARDGYM_CACHE"] = str(tmp_path_factory.mktemp("rewardgym-cache"))
    yield
    if previous is None:
        os.environ.pop("REWARDGYM_CACHE", None)
    else:
        os.environ["REWARDGYM_CACHE"] = previous
