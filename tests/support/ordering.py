"""The order of the collection, which is the order in which `--dist loadgroup` hands work out.

pytest-xdist's loadgroup scheduler (a LoadScopeScheduling) cuts the collection into units (one
per `xdist_group`, one per ungrouped test) and, with `--no-loadscope-reorder` (pyproject.toml),
queues them in collection order. At the start it gives the first unit to each worker in turn,
then one more unit to every worker that holds two tests or fewer; later, a worker gets the next
unit whenever it is down to two tests. A worker runs a test only once it knows the next one, so
a group of one long test starts only with a unit queued behind it, and that unit waits for it.

So the long groups (the act scenarios, tens of minutes) come first: they start at once, each on
a worker of its own. Next come as many quick tests as there are workers, the only units that
wait behind a long group. Then, longest first as far as marks tell (units that are slow or need
a service before quick ones; within each, groups before single tests, larger groups first): a
long unit left for the end keeps one worker busy while the others idle.
"""

from __future__ import annotations

import pytest

# Marks of tests that take long or need a service; a test with none of them is quick enough to
# wait behind an act scenario.
SLOW_MARKS = ("slow", "docker", "postgres", "act", "gpu")


def group_of(item: pytest.Item) -> str | None:
    """The group's name as xdist makes it: every xdist_group mark of the test, sorted, joined."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) or None


def is_long(group: str | None) -> bool:
    """The act scenarios' groups: `e2e` and any `e2e-...` beside it."""
    return group is not None and (group == "e2e" or group.startswith("e2e-"))


def _slow(item: pytest.Item) -> bool:
    return any(mark in item.keywords for mark in SLOW_MARKS)


def long_groups_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """`items` in the order described above; the order within each group is kept."""
    units: dict[object, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(group_of(item) or id(item), []).append(item)
    long = [members for name, members in units.items() if is_long(str(name))]
    quick = [m for name, m in units.items() if isinstance(name, int) and not _slow(m[0])]
    behind = quick[:workers]
    taken = {id(members) for members in (*long, *behind)}

    def rank(members: list[pytest.Item]) -> tuple[bool, bool, int]:
        return (not any(map(_slow, members)), len(members) == 1, -len(members))

    # sorted() is stable: units of one rank stay in collection order.
    rest = sorted((m for m in units.values() if id(m) not in taken), key=rank)
    return [item for members in (*long, *behind, *rest) for item in members]
