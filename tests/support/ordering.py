"""The order of the collection, which is the order in which `--dist loadgroup` hands work out.

pytest-xdist's loadgroup scheduler (a LoadScopeScheduling) cuts the collection into units (one
per `xdist_group`, one per ungrouped test) and, with `--no-loadscope-reorder` (pyproject.toml),
queues them in collection order. At the start it gives the first unit to each worker in turn,
then one more unit to every worker that holds two tests or fewer; later, a worker gets the next
unit whenever it is down to two tests. A worker runs a test only once it knows the next one, so
a group of one long test starts only with a unit queued behind it, and that unit waits for it.

So the long groups (the act scenarios, tens of minutes) come first: they start at once, each on
a worker of its own. Next come as many quick tests as there are workers, the only units that
wait behind a long group. Then the other groups, largest first (module-wide worlds that take
minutes, better started early than left for the end), then everything else as collected.
"""

from __future__ import annotations

import pytest

# Marks of tests that take long or need a service; a test with none of them is quick enough to
# wait behind an act scenario.
SLOW_MARKS = ("slow", "docker", "postgres", "act", "gpu")


def group_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def is_long(group: str | None) -> bool:
    """The act scenarios' groups: `e2e` and any `e2e-...` beside it."""
    return group is not None and (group == "e2e" or group.startswith("e2e-"))


def _quick(item: pytest.Item) -> bool:
    return group_of(item) is None and not any(mark in item.keywords for mark in SLOW_MARKS)


def long_groups_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """`items` in the order described above; the order within each group is kept."""
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        group = group_of(item)
        if group is not None:
            groups.setdefault(group, []).append(item)
    long = [item for name, members in groups.items() if is_long(name) for item in members]
    behind = [item for item in items if _quick(item)][:workers]
    others = sorted(
        (members for name, members in groups.items() if not is_long(name)),
        key=len,
        reverse=True,  # sorted() is stable: groups of one size stay in collection order
    )
    first = [*long, *behind, *(item for members in others for item in members)]
    placed = {id(item) for item in first}
    return [*first, *(item for item in items if id(item) not in placed)]
