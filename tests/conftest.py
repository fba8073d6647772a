"""Suite-wide settings: one intra-op thread (the models under test are tiny, and extra
threads on a 2-core machine only add contention), restored after the session."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
