"""Data-parallel training on PyTorch's own engine: ``fit`` under ``torchrun``.

Launched by ``torchrun --nproc-per-node N`` (or across nodes with its rendezvous), every
process runs the same script; ``fit`` finds torchrun's environment (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``...), joins the process group (gloo on CPU, nccl on CUDA) and
wraps the model in :class:`~torch.nn.parallel.DistributedDataParallel`. Every rank draws the
same data order from the seed; each global batch of ``batch_size`` rows is cut into one
contiguous part per rank (``batch_size / world_size`` rows each, the remainder going to the
first ranks), and each rank's loss is weighted by its share of the batch, so that DDP's
average of the gradients is exactly the gradient of the whole batch's mean loss, as one
process would compute it. Epoch losses, metrics and validation scores are summed across
ranks, so every rank logs the same numbers and callbacks (early stopping) decide alike; only
rank 0 prints progress and writes checkpoints.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError

__all__ = ["Group", "from_environment", "is_main_process", "restarted", "world_size"]


def is_main_process() -> bool:
    """False on the ranks other than 0 of a torchrun launch (known from its environment
    before any group exists): the commands save and print on rank 0 alone."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    """The processes of the group this process has joined (1 when it has joined none)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def restarted() -> bool:
    """Whether torchrun restarted the workers after a failure (``--max-restarts``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


@dataclass(frozen=True)
class Group:
    """This process's place in a data-parallel run."""

    rank: int
    world: int
    local_world: int

    @property
    def main(self) -> bool:
        """Rank 0: the one that prints and writes files."""
        return self.rank == 0

    def part(self, rows: int) -> slice:
        """This rank's contiguous share of a global batch of ``rows`` rows."""
        base, extra = divmod(rows, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over the ranks (float64, so sums of sums stay exact enough)."""
        t = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().tolist()

    def sum_tensor(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the ranks (a new tensor, on ``tensor``'s device): what
        synchronised batch normalisation adds up (:mod:`seqnets.layers.sync_stats`)."""
        t = tensor.detach().to(self._device(), copy=True)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.to(tensor.device)

    def any(self, *flags: bool) -> list[bool]:
        """Each flag, true if it is true on any rank: how the ranks agree to stop together."""
        t = torch.tensor([float(f) for f in flags], device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.cpu().tolist()]

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's ``tensor`` (same shape and dtype on each), in rank order, on CPU."""
        device = self._device()
        parts = [torch.empty_like(tensor, device=device) for _ in range(self.world)]
        dist.all_gather(parts, tensor.to(device))
        return [p.cpu() for p in parts]

    def broadcast_int(self, value: int) -> int:
        """Rank 0's ``value`` on every rank."""
        t = torch.tensor([value], dtype=torch.int64, device=self._device())
        dist.broadcast(t, src=0)
        return int(t.item())

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DDP: rank 0's weights are broadcast, gradients averaged in backward."""
        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    @staticmethod
    def _device() -> torch.device:
        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


def _join(backend: str) -> None:
    """Join torchrun's group. Its store outlives a restart of the workers, and the keys the
    dead attempt left in it would send the new ranks to connect to dead peers: each attempt
    uses keys of its own (a prefix with torchrun's restart count)."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                          is_master=not agent_store and rank == 0)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    dist.init_process_group(backend, store=dist.PrefixStore(f"seqnets/attempt-{attempt}",
                                                            store),
                            rank=rank, world_size=world)
    # a group still up when the interpreter exits can abort it ("terminate called without
    # an active exception", seen one exit in six; and a rank that took it down before its
    # peers, one resumed fit_sharded run in four): the group we made, we take down together
    atexit.register(_leave)


def _leave() -> None:
    if dist.is_initialized():
        try:  # take the group down together: a rank that leaves first can abort ("terminate
            dist.barrier()  # called without ...") while a peer still sends; a dead peer
        except RuntimeError:  # ends the wait at once
            pass
        dist.destroy_process_group()


def from_environment(device: torch.device) -> Group | None:
    """The data-parallel group this process belongs to, joining it if torchrun started the
    process and no group exists yet; None for a plain single-process run."""
    if not dist.is_available():
        return None
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "MASTER_ADDR" not in os.environ:
            return None
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        _join(backend)
    world = dist.get_world_size()
    if world <= 1:
        return None
    expected = "nccl" if device.type == "cuda" else "gloo"
    if dist.get_backend() != expected:
        raise ConfigError(f"the process group uses {dist.get_backend()}, but the model is on "
                          f"{device.type}: use {expected} (or move the model)")
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return Group(rank=dist.get_rank(), world=world, local_world=max(1, local))
