"""Per-query pixel histories (ELR's prediction average, NPN's candidate counts), stored compactly and checkpointed.

One uint8 map per (frame, object) query of the training split at the model input resolution, indexed by
``QueryBatch.query_ids``, plus a visit count per query. Memory: ``num_queries * H * W`` bytes (+4 per query). For
the default ActiSeg-Sim train split (7,090 queries) that is 0.81 GB at 256x448 and 0.54 GB at 240x320; float32
would be 4x. NPN keeps two such stores (its counts M1 and M0), so twice that. The block is allocated
uninitialised (``torch.empty``) on first use, so the operating system commits a query's pages only when that query
is first written: a short run pays for the queries it visits. Rows are read only once visited, and a checkpoint
holds the visited rows only.

Histories stay on the CPU (the device copy of a batch's rows is made per step) and in one process: under DDP each
rank would see other queries, so the trainer refuses these learners with more than one process.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from actiseg_core.learners.base import LearnerContext
from actiseg_core.learners.pixel import PixelLossLearner


class QueryPixelStore:
    """uint8 rows [num_queries, H, W] and int32 visit counts [num_queries], both on the CPU."""

    def __init__(self, num_queries: int, size: tuple[int, int]) -> None:
        self.num_queries = num_queries
        self.size = (int(size[0]), int(size[1]))
        self.visits = torch.zeros(num_queries, dtype=torch.int32)
        self._rows: Tensor | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of the full block (what a run that visits every query ends up holding)."""
        return self.num_queries * self.size[0] * self.size[1]

    def _block(self) -> Tensor:
        if self._rows is None:
            self._rows = torch.empty((self.num_queries, *self.size), dtype=torch.uint8)
        return self._rows

    def read(self, ids: Tensor, device: torch.device) -> Tensor:
        """Rows of ``ids`` as uint8 [n, 1, H, W] on ``device``; meaningful only where ``visits[ids] > 0``."""
        return self._block()[ids.cpu()].unsqueeze(1).to(device)

    def write(self, ids: Tensor, rows: Tensor) -> None:
        """Store uint8 rows [n, 1, H, W] for ``ids`` and count the visit."""
        ids = ids.cpu()
        self._block()[ids] = rows.squeeze(1).to("cpu", torch.uint8)
        self.visits[ids] += 1

    def state_dict(self) -> dict[str, Any]:
        seen = torch.nonzero(self.visits, as_tuple=True)[0]
        rows = self._block()[seen].clone() if len(seen) else torch.zeros((0, *self.size), dtype=torch.uint8)
        return {
            "num_queries": self.num_queries,
            "size": list(self.size),
            "ids": seen,
            "rows": rows,
            "visits": self.visits[seen].clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; a store of another split or resolution is refused, not misindexed."""
        if state["num_queries"] != self.num_queries or tuple(state["size"]) != self.size:
            raise ValueError(
                f"pixel history of {state['num_queries']} queries at {tuple(state['size'])} does not "
                f"fit {self.num_queries} queries at {self.size}"
            )
        self.visits.zero_()
        self.visits[state["ids"]] = state["visits"]
        if len(state["ids"]):
            self._block()[state["ids"]] = state["rows"]


class PixelHistoryLearner(PixelLossLearner):
    """A :class:`PixelLossLearner` with one :class:`QueryPixelStore` that a checkpoint carries (ELR, NPN)."""

    keeps_pixel_histories = True

    def __init__(self, context: LearnerContext, **hyper: Any) -> None:
        super().__init__(context, **hyper)
        self.history = QueryPixelStore(context.num_queries, context.input_size)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history.load_state_dict(state["history"])
