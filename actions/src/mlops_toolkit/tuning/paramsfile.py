"""The best trial's values written into params.yaml's `model.params`, in place.

PyYAML (the project's YAML library, through core/strictyaml.py) does not keep comments, so the
file is not dumped again: only the value of each swept key under `model: params:` is replaced
on its own line (its comment kept), a key the block lacks is added at its end, and every other
byte stays. The result is read back: unless `model.params` is exactly the new mapping and the
rest of the document is unchanged, nothing is written and the reason is one line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError

TOP_KEY = re.compile(r"^(?P<key>[^\s#][^:]*):(?P<rest>.*)$")
# An entry of the block: `  key: value  # comment` (the comment kept as it is).
ENTRY = re.compile(
    r"^(?P<indent>[ ]+)(?P<key>[A-Za-z_]\w*):(?P<space>[ ]*)"
    r"(?P<value>[^#\n]*?)(?P<tail>[ ]+#.*)?$"
)


def update(path: Path, values: dict[str, Any]) -> str:
    """Write ``values`` into ``model.params`` of ``path``; returns the new text."""
    text = path.read_text(encoding="utf-8")
    new = updated_text(text, values, str(path))
    if new != text:
        temporary = path.with_name(f".{path.name}.sweep")
        temporary.write_text(new, encoding="utf-8")
        temporary.replace(path)
    return new


def updated_text(text: str, values: dict[str, Any], where: str = "params.yaml") -> str:
    import yaml

    lines = text.splitlines(keepends=True)
    start, end = _block(lines, where)
    head = lines[start]
    indent = _child_indent(lines, start, end, head)
    seen: set[str] = set()
    for i in range(start + 1, end):
        match = ENTRY.match(lines[i].rstrip("\n"))
        if not match or len(match["indent"]) != indent or match["key"] not in values:
            continue
        seen.add(match["key"])
        newline = "\n" if lines[i].endswith("\n") else ""
        lines[i] = (
            f"{match['indent']}{match['key']}: {_scalar(values[match['key']])}"
            f"{match['tail'] or ''}{newline}"
        )
    added = [f"{' ' * indent}{k}: {_scalar(v)}\n" for k, v in values.items() if k not in seen]
    last = _last_entry(lines, start, end)
    if added and not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines[last + 1 : last + 1] = added
    new = "".join(lines)
    _verify(yaml.safe_load(text), yaml.safe_load(new), values, where)
    return new


def _block(lines: list[str], where: str) -> tuple[int, int]:
    """(index of the `params:` line under `model:`, index after its block)."""
    model = next((i for i, line in enumerate(lines) if re.match(r"^model:\s*(#.*)?$", line)), None)
    if model is None:
        raise InputError(f"{where}: no top-level model: section to write the best params into")
    section_end = next(
        (i for i in range(model + 1, len(lines)) if TOP_KEY.match(lines[i])), len(lines)
    )
    params = next(
        (
            i
            for i in range(model + 1, section_end)
            if re.match(r"^[ ]+params:[ ]*(#.*)?$", lines[i].rstrip("\n"))
        ),
        None,
    )
    if params is None:
        raise InputError(
            f"{where}: model.params is not a block mapping (`params:` on a line of its own)"
        )
    own = _indent(lines[params])
    end = params + 1
    while end < section_end and (
        not lines[end].strip() or _indent(lines[end]) > own or lines[end].lstrip().startswith("#")
    ):
        end += 1
    return params, end


def _child_indent(lines: list[str], start: int, end: int, head: str) -> int:
    for i in range(start + 1, end):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            return _indent(lines[i])
    return _indent(head) + 2


def _last_entry(lines: list[str], start: int, end: int) -> int:
    """The block's last line holding a value (trailing comments and blanks stay after it)."""
    for i in range(end - 1, start, -1):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            return i
    return start


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _scalar(value: Any) -> str:
    """One YAML scalar as PyYAML writes it (1e-05 becomes 1.0e-05, which it reads back)."""
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=1_000_000).strip()[1:-1]


def _verify(before: Any, after: Any, values: dict[str, Any], where: str) -> None:
    expected = {**((before.get("model") or {}).get("params") or {}), **values}
    got = ((after or {}).get("model") or {}).get("params")
    rest_before = {**before, "model": {**before["model"], "params": None}}
    rest_after = {**(after or {}), "model": {**((after or {}).get("model") or {}), "params": None}}
    if got != expected or rest_before != rest_after:
        raise InputError(
            f"{where}: could not write the best params in place (model.params would read "
            f"{got!r}); set them by hand: {values}"
        )
