"""Cell analysis: which names a cell reads, which it assigns, and whether it ends in an
expression whose value should be displayed.

The analysis is static (``ast`` for statement order, ``symtable`` for scopes), so it
works before anything is shipped. It errs on the side of shipping a name: a name read
anywhere before it is certainly assigned counts as read.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

__all__ = ["CellAnalysis", "analyze", "cell_filename", "uses_ipython"]

# Statements that, once run, have certainly bound every name they store.
_DEFINITE = (
    ast.Assign,
    ast.AnnAssign,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.With,
    ast.AsyncWith,
)


@dataclass(frozen=True)
class CellAnalysis:
    """What a cell reads, writes and shows."""

    reads: frozenset[str]
    """Names the cell may read before it assigns them."""
    writes: tuple[str, ...]
    """Module-level names the cell assigns, in first-assignment order."""
    deletes: frozenset[str]
    """Names the cell deletes at module level (``del x``) and does not re-assign."""
    displays_last: bool
    """Whether the last statement is an expression whose value is displayed."""


def cell_filename(label: str) -> str:
    """The pseudo file name a cell's code is compiled under (shown in tracebacks)."""
    return f"<cell {label}>"


def _statement_scopes(source: str) -> symtable.SymbolTable:
    return symtable.symtable(source, "<cell>", "exec")


def _nested_globals(table: symtable.SymbolTable) -> tuple[set[str], set[str]]:
    """Global names read and written by the function and class scopes under ``table``."""
    reads: set[str] = set()
    writes: set[str] = set()
    for child in table.get_children():
        for symbol in child.get_symbols():
            if symbol.is_declared_global() and symbol.is_assigned():
                writes.add(symbol.get_name())
            elif symbol.is_global() and symbol.is_referenced():
                reads.add(symbol.get_name())
            elif child.get_type() == "class" and symbol.is_referenced() and not symbol.is_assigned():
                reads.add(symbol.get_name())  # class bodies read globals by name
        deeper_reads, deeper_writes = _nested_globals(child)
        reads |= deeper_reads
        writes |= deeper_writes
    return reads, writes


def _statement_names(node: ast.stmt) -> tuple[set[str], list[str], set[str]]:
    """(names read, names written in order, names deleted) by one top-level statement."""
    table = _statement_scopes(ast.unparse(node))
    reads = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    writes = [s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()]
    nested_reads, nested_writes = _nested_globals(table)
    reads |= nested_reads
    writes += sorted(nested_writes - set(writes))
    reads |= _augmented_names(ast.Module(body=[node], type_ignores=[]))
    deletes = set()
    if isinstance(node, ast.Delete):
        deletes = {t.id for t in node.targets if isinstance(t, ast.Name)}
        reads |= deletes
    return reads, writes, deletes


def _augmented_names(node: ast.AST) -> set[str]:
    """Names updated in place (``x += 1``) in module scope: they read the old value."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(child, ast.AugAssign) and isinstance(child.target, ast.Name):
            found.add(child.target.id)
        found |= _augmented_names(child)
    return found


def analyze(source: str, filename: str = "<cell>") -> CellAnalysis:
    """Analyse a cell's Python source; raises ``SyntaxError`` as ``compile`` would."""
    tree = ast.parse(source, filename=filename)
    reads: set[str] = set()
    certain: set[str] = set()
    writes: dict[str, None] = {}
    deletes: set[str] = set()
    for node in tree.body:
        node_reads, node_writes, node_deletes = _statement_names(node)
        reads |= node_reads - certain
        for name in node_writes:
            writes.setdefault(name, None)
            deletes.discard(name)
        if isinstance(node, _DEFINITE):
            certain.update(node_writes)
        deletes |= node_deletes
        certain -= node_deletes
    displays_last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not _ends_with_semicolon(source)
    return CellAnalysis(
        reads=frozenset(reads),
        writes=tuple(w for w in writes if w not in deletes),
        deletes=frozenset(deletes),
        displays_last=displays_last,
    )


def _ends_with_semicolon(source: str) -> bool:
    lines = [line.split("#", 1)[0].rstrip() for line in source.rstrip().splitlines()]
    return bool(lines) and lines[-1].endswith(";")


def uses_ipython(source: str) -> bool:
    """Whether transformed cell code calls ``get_ipython()`` (magics, ``!`` commands)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            inner = node.func.value
            if isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "get_ipython":
                return True
    return False
