"""pytest-xdist's `loadgroup` scheduling, with the suite's long groups kept apart.

`loadgroup` hands a worker the next unit whenever it has two tests or fewer left. A group of
one long test (an act scenario, half an hour) therefore pulls the next unit in behind it, and
that may be the other long group: both then run one after the other on one worker while the
others go idle. Here the long groups start first, each on a worker of its own, and behind each
one waits only the smallest unit there is (an xdist worker runs a test only once it knows the
next one, so a long test alone in its queue would not start)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from xdist.scheduler import LoadGroupScheduling


class LongGroupsApart(LoadGroupScheduling):
    def __init__(self, config: pytest.Config, log, long_groups: Iterable[str]) -> None:
        super().__init__(config, log)
        self.long_groups = frozenset(long_groups)

    def _long_pending(self, node) -> int:
        """How many tests of long groups the node has yet to run."""
        work = self.assigned_work.get(node, {})
        return sum(
            list(unit.values()).count(False)
            for scope, unit in work.items()
            if scope in self.long_groups
        )

    def _to_front(self, scope: str | None) -> None:
        if scope is not None:
            self.workqueue.move_to_end(scope, last=False)

    def _assign_work_unit(self, node) -> None:
        queued = list(self.workqueue)
        if self._long_pending(node):
            short = [scope for scope in queued if scope not in self.long_groups]
            self._to_front(min(short, key=lambda s: len(self.workqueue[s]), default=None))
        else:
            self._to_front(next((s for s in queued if s in self.long_groups), None))
        super()._assign_work_unit(node)

    def _reschedule(self, node) -> None:
        long_pending = self._long_pending(node)
        behind = self._pending_of(self.assigned_work.get(node, {})) - long_pending
        if long_pending and behind and self.workqueue and not node.shutting_down:
            return  # one unit waits behind the long group; the rest is for other workers
        super()._reschedule(node)
