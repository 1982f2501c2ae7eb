"""Data-parallel training under ``torchrun``: process group, gradient averaging, rank checks.

Gradients are averaged with one flat all-reduce after ``backward`` instead of wrapping the model in
``DistributedDataParallel``. The arithmetic is the same (every rank steps with the mean gradient); what it buys is
that learners may own several networks (Co-teaching), skip outputs (PMHM's auxiliary head only in some phases) or
freeze parameters mid-run (PMHM's decaying-rate freezing) without DDP's unused-parameter and re-wrap rules. It
gives up DDP's overlap of communication with backward, which is noise for a 3 M-parameter model.
Backend: NCCL when CUDA is available, gloo on CPU. Without ``torchrun`` (no ``WORLD_SIZE``) everything here is a
no-op and training runs in one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch import distributed as dist

from actiseg_core.errors import ActiSegError


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main rank writes logs and checkpoints and runs the validation pass."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: this process's GPU (``cuda:LOCAL_RANK``) when CUDA is available, else the CPU."""
    if device == "auto":
        device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu"
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise ActiSegError(f"bad --device {device!r} ({exc})") from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise ActiSegError(f"--device {device}: CUDA is not available here")
        torch.cuda.set_device(chosen)
    return chosen


def setup_distributed(device: str = "auto") -> DistInfo:
    """Join the ``torchrun`` process group if there is one; pick this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = resolve_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank() if world_size > 1 else 0, world_size, chosen)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def teardown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _flat_all_reduce_mean(tensors: list[Tensor], info: DistInfo) -> None:
    """Average ``tensors`` in place across ranks with one all-reduce of their concatenation."""
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= info.world_size
    for tensor, chunk in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
        tensor.copy_(chunk.view_as(tensor))


def average_gradients(params: Iterable[nn.Parameter], info: DistInfo) -> None:
    """Mean gradient over ranks. Parameters without a gradient are skipped; every rank runs the same graph, so
    the skipped set is the same everywhere."""
    if info.enabled:
        _flat_all_reduce_mean([p.grad for p in params if p.grad is not None], info)


def average_buffers(modules: Iterable[nn.Module], info: DistInfo) -> None:
    """Average float buffers (BatchNorm running statistics) so the checkpointed and evaluated model is the same
    on every rank; each rank only saw its own share of the batches."""
    if info.enabled:
        _flat_all_reduce_mean([b for m in modules for b in m.buffers() if b.is_floating_point()], info)


def broadcast_modules(modules: Iterable[nn.Module], info: DistInfo) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if info.enabled:
        for module in modules:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``obj`` of every rank, in rank order (e.g. per-rank RNG states for the checkpoint)."""
    if not info.enabled:
        return [obj]
    gathered: list[Any] = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if ``flag`` is true on any (a stop request seen by one rank stops all at one step)."""
    if not info.enabled:
        return flag
    value = torch.tensor([float(flag)], device=info.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def mean_over_ranks(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """Per-key mean over ranks (for the log); keys must be the same, in the same order, on every rank."""
    if not info.enabled or not values:
        return values
    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=info.device)
    dist.all_reduce(tensor)
    return dict(zip(values, (tensor / info.world_size).tolist(), strict=True))


def check_ranks_agree(modules: Iterable[nn.Module], info: DistInfo, tolerance: float = 1e-5) -> float:
    """Largest parameter difference between any rank and rank 0; raises if they drifted apart."""
    if not info.enabled:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1) for m in modules for p in m.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    difference = torch.tensor([(flat - reference).abs().max().item()], device=info.device)
    dist.all_reduce(difference, op=dist.ReduceOp.MAX)
    if difference.item() > tolerance:
        raise ActiSegError(f"ranks disagree on parameters (max |difference| {difference.item():.3g}): "
                           "distributed training went out of sync")
    return difference.item()
