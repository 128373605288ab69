"""YAML for configuration files: safe, and a key given twice in one mapping is an error.

Plain YAML keeps the last of two equal keys, so a duplicated `seed:` or `min_value:` silently
wins. The gate's config and generated projects' params.yaml both load through here.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def unique_key_loader() -> type:
    """A SafeLoader that raises a ConstructorError naming the key and both of its lines."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # what a "<<" merge brings, explicit keys may override
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str | int):
                    continue  # odd keys are refused later, by name
                if key in first_line:
                    again = f"duplicate key {key!r}, first given at line {first_line[key]}, again"
                    raise yaml.constructor.ConstructorError(
                        problem=again, problem_mark=key_node.start_mark
                    )
                first_line[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def load(text: str) -> Any:
    """Parse `text`; yaml.YAMLError (ConstructorError for a duplicate key) on bad input."""
    import yaml

    return yaml.load(text, Loader=unique_key_loader())
