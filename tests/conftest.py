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
