"""Cell analysis: which names a cell reads, which it assigns, and whether it ends in an
expression whose value should be displayed.

The analysis is static (``ast`` for statement order, ``symtable`` for scopes), so it
works before anything is shipped. It errs on the side of shipping a name: a name read
anywhere before it is certainly assigned counts as read.
"""

from __future__ import annotations

import ast
import io
import symtable
import tokenize
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
)
"""``with`` is not among them: a context manager may swallow an exception
(``contextlib.suppress``) before the block's assignments ran."""


@dataclass(frozen=True)
class CellAnalysis:
    """What a cell reads, writes and shows."""

    reads: frozenset[str]
    """Names the cell may read before it assigns them."""
    writes: tuple[str, ...]
    """Module-level names the cell assigns, in first-assignment order."""
    deletes: frozenset[str]
    """Names the cell may delete at module level (``del x``, also inside ``if`` or loops)."""
    displays_last: bool
    """Whether the last statement is an expression whose value is displayed."""
    changed_in_place: frozenset[str] = frozenset()
    """Names whose value the cell changes through a subscript, slice or attribute
    (``a[0] = 1``, ``a.x = 2``, ``a[:] += 1``, ``del a[0]``) or an augmented assignment."""


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
            name = symbol.get_name()
            if symbol.is_declared_global() and symbol.is_assigned():
                writes.add(name)
            if symbol.is_global() and symbol.is_referenced():
                reads.add(name)  # ``global n; n += 1`` reads it too
            elif child.get_type() == "class" and symbol.is_referenced():
                reads.add(name)  # a class body reads globals by name, even ``k = k + 1``
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
    reads |= _augmented_names(node)
    deletes = {t.id for t in node.targets if isinstance(t, ast.Name)} if isinstance(node, ast.Delete) else set()
    reads |= _deleted_names(node)  # ``del x`` needs the notebook's ``x``, at any depth
    return reads, writes, deletes


def _module_scope(node: ast.AST) -> list[ast.AST]:
    """``node``'s descendants that run in module scope (not inside functions or classes)."""
    found: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        found.append(child)
        found += _module_scope(child)
    return found


def _deleted_names(node: ast.stmt) -> set[str]:
    """Names deleted in module scope by ``node``, inside ``if``, loops and ``try`` too."""
    deletes = [d for d in [node, *_module_scope(node)] if isinstance(d, ast.Delete)]
    return {t.id for d in deletes for t in d.targets if isinstance(t, ast.Name)}


def _augmented_names(node: ast.stmt) -> set[str]:
    """Names updated in place (``x += 1``) in module scope: they read the old value."""
    updates = [u for u in [node, *_module_scope(node)] if isinstance(u, ast.AugAssign)]
    return {u.target.id for u in updates if isinstance(u.target, ast.Name)}


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
        deletes |= _deleted_names(node)
        certain -= node_deletes
    displays_last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not _ends_with_semicolon(source)
    return CellAnalysis(
        reads=frozenset(reads),
        writes=tuple(w for w in writes if w not in deletes),
        deletes=frozenset(deletes),
        displays_last=displays_last,
        changed_in_place=_changed_in_place(tree),
    )


def _changed_in_place(tree: ast.AST) -> frozenset[str]:
    """The names at the base of every store or delete through a subscript or an attribute, and
    the targets of augmented assignments, anywhere in the cell."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            base = node.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
    return frozenset(names)


def _ends_with_semicolon(source: str) -> bool:
    """Whether the last token of the code is ``;`` (IPython then shows no result)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    except (tokenize.TokenError, SyntaxError):
        return False
    return bool(tokens) and tokens[-1].exact_type == tokenize.SEMI


def uses_ipython(source: str) -> bool:
    """Whether transformed cell code calls ``get_ipython()`` (magics, ``!`` commands)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            inner = node.func.value
            if isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "get_ipython":
                return True
    return False
