"""The toolkit's shape, as docs/architecture.md draws it: domain subpackages, a short top level,
no module name twice, and no import cycle between modules (imports at module level: the lazy
ones inside functions exist to keep `--help` instant and may point anywhere)."""

from __future__ import annotations

import ast
import functools
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "actions" / "src" / "mlops_toolkit"
TOP_LEVEL = {"__init__", "cli", "errors", "names", "contracts", "metrics", "directions"}
# A domain may import only the domains listed for it (and core and the top-level modules).
ALLOWED = {
    "core": set(),
    "tracking": set(),
    "registry": {"tracking"},
    # Robustness asks the data domain what role a column plays, as training infers it.
    "gate": {"tracking", "registry", "data"},
    "data": set(),
    "compute": {"tracking"},
    "deploy": {"tracking", "registry"},
    "serving": {"registry", "monitoring"},
    "monitoring": {"registry", "gate", "tracking", "ci"},
    "ci": {"tracking", "registry", "gate"},
    "checks": {"tracking", "registry", "compute", "data", "deploy", "ci"},
    # What a generated project imports: the platform's side of its commands (and the GPU
    # probe, DVC's add and push, the registration of evaluate).
    "project": {"tracking", "registry", "gate", "data", "compute", "serving", "monitoring"},
    # Sweeps drive a project's model factory through the project API (params, tables, roles),
    # record trials in MLflow and propose the result through the GitHub client; nothing but
    # commands imports them.
    "tuning": {"project", "tracking", "ci"},
}


@functools.cache
def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def top_level_imports(name: str, path: Path) -> set[str]:
    """Module-level imports of toolkit modules (dotted under mlops_toolkit), resolved."""
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    known = modules()
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports never run
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1] + (
                node.module.split(".") if node.module else []
            )
        elif node.module and node.module.startswith("mlops_toolkit"):
            base = node.module.split(".")[1:]
        else:
            continue
        for alias in node.names:
            full = ".".join([*base, alias.name])
            found.add(full if full in known else ".".join(base))
    found.discard("")
    return found


def test_the_top_level_is_short_and_everything_else_lives_in_a_domain():
    top = {p.stem for p in SRC.glob("*.py")}
    assert top == TOP_LEVEL, top ^ TOP_LEVEL
    domains = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert domains == set(ALLOWED) | {"commands"}, domains ^ (set(ALLOWED) | {"commands"})


def test_no_module_name_exists_twice():
    """Commands included: `commands/relay.py` beside a `monitoring/relay.py` is two modules of
    one name. A command may share its name only with the domain package it drives (`gate`)."""
    names = Counter(p.stem for p in SRC.rglob("*.py") if p.stem != "__init__")
    domains = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    commands = {p.stem for p in (SRC / "commands").glob("*.py")}
    twice = [n for n, count in names.items() if count > 1 or (n in domains and n not in commands)]
    assert twice == []


def test_no_import_cycle_between_modules():
    graph = {name: top_level_imports(name, path) for name, path in modules().items()}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                raise AssertionError(" -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_domains_import_only_the_domains_below_them():
    """Lazy imports inside functions included: a lazy import keeps `--help` fast, it does not
    make an upward dependency (gate -> project) or a cycle between domains acceptable."""
    wrong = []
    for name, path in modules().items():
        domain = name.split(".")[0]
        if domain not in ALLOWED:
            continue
        for target in imported_anywhere(name, path):
            other = target.split(".")[0]
            if other in TOP_LEVEL or other in {"core", domain}:
                continue
            if other not in ALLOWED[domain]:
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_the_allowed_imports_between_domains_have_no_cycle():
    state: dict[str, str] = {}

    def visit(domain: str, trail: list[str]) -> None:
        state[domain] = "open"
        for other in sorted(ALLOWED.get(domain, ())):
            if state.get(other) == "open":
                raise AssertionError(" -> ".join([*trail, domain, other]))
            if other not in state:
                visit(other, [*trail, domain])
        state[domain] = "done"

    for domain in sorted(ALLOWED):
        if domain not in state:
            visit(domain, [])


def test_v1_import_paths_are_the_new_modules():
    """Projects generated before the subpackages import the flat names; each is the new module
    (one object: a fix or a monkeypatch reaches both), in both import forms."""
    import importlib
    import subprocess
    import sys

    import mlops_toolkit

    for old, new in mlops_toolkit.V1_PATHS.items():
        assert (SRC / (new.replace(".", "/") + ".py")).is_file(), new
        assert not (SRC / f"{old}.py").exists(), old
        module = importlib.import_module(f"mlops_toolkit.{old}")
        assert module is importlib.import_module(f"mlops_toolkit.{new}"), old
    code = (
        "from mlops_toolkit import gate_config, strictyaml\n"
        "from mlops_toolkit.tracking_check import check\n"
        "from mlops_toolkit.gpu import available\n"
        "import mlops_toolkit.open_run as o, mlops_toolkit.tracking.open_runs as n\n"
        "assert o is n and gate_config.load and strictyaml and check and available\n"
        "try:\n    from mlops_toolkit import nothing_here\nexcept ImportError:\n    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def imported_anywhere(name: str, path: Path) -> set[str]:
    """Every toolkit module a module imports, at module level or lazily inside any function
    (the whole tree walked), as dotted names under mlops_toolkit; `importlib` strings that name
    a toolkit module too."""
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mlops_toolkit":
                    found.add(".".join(alias.name.split(".")[1:]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] + (
                    node.module.split(".") if node.module else []
                )
            elif node.module and node.module.split(".")[0] == "mlops_toolkit":
                base = node.module.split(".")[1:]
            else:
                continue
            found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Constant) and str(node.value).startswith("mlops_toolkit."):
            found.add(str(node.value).removeprefix("mlops_toolkit."))
    return found


def test_only_the_command_layer_imports_commands():
    """commands -> domains -> core, never back: outside commands/ and cli.py no module imports
    `commands`, not even lazily inside a function (what a domain needs lives in the domain)."""
    wrong = []
    for name, path in modules().items():
        if name == "cli" or name.split(".")[0] == "commands":
            continue
        for target in sorted(imported_anywhere(name, path)):
            if target.split(".")[0] == "commands":
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_docs_architecture_names_every_module():
    """The living picture keeps up: every module's file is named in docs/architecture.md (a
    command by its module name, as the commands/ entry lists them)."""
    doc = (SRC.parents[2] / "docs" / "architecture.md").read_text()
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        name = path.stem if path.parent.name == "commands" else path.name
        if name not in doc:
            missing.append(str(path.relative_to(SRC)))
    assert missing == []
