"""The layout's rules: which code may import what, no import cycles, small modules and functions."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cellfleet"
ROOT_MODULES = ("errors", "config", "protocol", "experiment", "ids", "failures", "environment")

_OUTSIDE_KERNEL = ("IPython", "cellfleet.kernel")
_NO_CLUSTER = (*_OUTSIDE_KERNEL, "dask", "distributed", "cellfleet.worker")
FORBIDDEN = {
    "kernel": (),
    "worker": (*_OUTSIDE_KERNEL, "sqlalchemy", "cellfleet.store", "cellfleet.production", "cellfleet.server"),
    "store": (*_NO_CLUSTER, "cellfleet.production", "cellfleet.server", "cellfleet.cli"),
    "production": (*_NO_CLUSTER, "cellfleet.server", "cellfleet.cli"),
    "server": (*_NO_CLUSTER, "cellfleet.cli"),
    "cli": (*_NO_CLUSTER, "cellfleet.server"),
    "cluster": (
        *_OUTSIDE_KERNEL,
        "sqlalchemy",
        "cellfleet.store",
        "cellfleet.production",
        "cellfleet.server",
        "cellfleet.cli",
    ),
    "": ("IPython", "dask", "distributed", "sqlalchemy", "cellfleet.production", "cellfleet.server", "cellfleet.cli"),
}
"""What importing each subpackage (``""``: the root modules) must not bring in: only the kernel
imports IPython, the worker never touches the store, and the store, production, the server and
the CLI start without Dask. The shared cluster's process (``cluster``) runs Dask but no kernel,
store or server code; the parts of it the CLI uses stay Dask-free by the CLI's own rule."""

_PROBE = """
import importlib, json, pkgutil, sys
names = json.loads(sys.argv[1])
for name in names:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_of(subpackage: str) -> list[str]:
    if not subpackage:
        return [f"cellfleet.{name}" for name in ROOT_MODULES]
    return sorted(module_name(path) for path in (PACKAGE / subpackage).rglob("*.py") if path.name != "__main__.py")


@pytest.mark.parametrize("subpackage", list(FORBIDDEN), ids=lambda s: s or "root")
def test_import_rules(subpackage):
    names = modules_of(subpackage)
    probe = [sys.executable, "-c", _PROBE, json.dumps(names)]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    broken = sorted({rule for rule in FORBIDDEN[subpackage] for name in loaded if _within(name, rule)})
    assert not broken, f"importing cellfleet.{subpackage or '(root)'} loads {', '.join(broken)}"


CLUSTER_READERS = ("cellfleet.cluster.record", "cellfleet.cluster.options", "cellfleet.cluster.launch")
"""The shared cluster's modules the CLI and the server use: never Dask (the CLI imports them lazily,
so the rules above alone would not see it)."""


def test_the_shared_cluster_parts_the_cli_and_server_use_load_no_dask():
    probe = [sys.executable, "-c", _PROBE, json.dumps(CLUSTER_READERS)]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    broken = sorted({rule for rule in _NO_CLUSTER for name in json.loads(done.stdout) if _within(name, rule)})
    assert not broken, f"importing {', '.join(CLUSTER_READERS)} loads {', '.join(broken)}"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _imports(path: Path) -> set[str]:
    """The cellfleet modules ``path`` imports anywhere (functions included; not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cellfleet"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("cellfleet"))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in _imports(path) if target in paths and target != name}
        for name, path in paths.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycles():
    graph = {name: targets - {"cellfleet"} for name, targets in import_graph().items() if name != "cellfleet"}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_no_subpackage_imports_what_its_process_must_not_even_later():
    """The import rules again, over every import statement (those inside functions too)."""
    broken = []
    for name, targets in import_graph().items():
        parts = name.split(".")
        subpackage = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FORBIDDEN) else ""
        if not subpackage:
            continue
        rules = [rule for rule in FORBIDDEN[subpackage] if rule.startswith("cellfleet.")]
        broken += [f"{name} imports {target}" for target in targets for rule in rules if _within(target, rule)]
    assert not broken, "; ".join(sorted(broken))


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_modules_and_functions_stay_small():
    too_big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            too_big.append(f"{module_name(path)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 40:
                    too_big.append(f"{module_name(path)}.{node.name}: {length} lines")
    assert not too_big, "; ".join(too_big)
