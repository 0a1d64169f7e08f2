"""Run a notebook headless and print what a person reading it would see, cell by cell.

    python scripts/show_notebook.py examples/quickstart.ipynb [--output executed.ipynb]

The notebook runs with nbclient in the kernel its metadata names, in the notebook's own
folder, with a limit of 300 s per cell. Each cell is printed as it finishes: markdown as
written, code as ``In [n]:`` followed by its outputs as text. Rich outputs are described
rather than dumped: ``[HTML table rendered: N rows]``, ``[image/png WxH]``.

Exit status: 0 when every cell ran, 1 when a cell failed (named on the last line),
2 when the file cannot be run (missing, not a notebook, unknown kernel).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
import struct
import sys
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

CELL_TIMEOUT = 300
"""Seconds one cell may run."""
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IMAGE_KINDS = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


class NotebookInputError(Exception):
    """The file cannot be run as a notebook; the message is one line for a person."""


def read_notebook(path: Path) -> NotebookNode:
    """The notebook at ``path``, or :class:`NotebookInputError` saying why not."""
    if not path.exists():
        raise NotebookInputError(f"{path}: no such file")
    if not path.is_file():
        raise NotebookInputError(f"{path}: not a file")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError, nbformat.ValidationError):
        raise NotebookInputError(f"{path}: not a Jupyter notebook (expected nbformat JSON)") from None
    return notebook


def png_size(encoded: str) -> tuple[int, int] | None:
    """Width and height of a base64-encoded PNG, from its IHDR header; ``None`` if not a PNG."""
    try:
        header = base64.b64decode("".join(str(encoded).split())[:64])
    except (binascii.Error, ValueError):
        return None
    if len(header) < 24 or not header.startswith(_PNG_SIGNATURE) or header[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def describe_html(html: str) -> str:
    """A one-line stand-in for rendered HTML."""
    if "<table" not in html.lower():
        return "[HTML rendered]"
    bodies = re.findall(r"<tbody.*?</tbody>", html, flags=re.S | re.I)
    rows = sum(len(re.findall(r"<tr[\s>]", body, flags=re.I)) for body in bodies)
    if not bodies:
        rows = len(re.findall(r"<tr[\s>]", html, flags=re.I))
    return f"[HTML table rendered: {rows} rows]"


def describe_image(kind: str, payload: Any) -> str:
    """A one-line stand-in for an image output."""
    size = png_size(payload) if kind == "image/png" else None
    return f"[{kind} {size[0]}x{size[1]}]" if size else f"[{kind}]"


def render_data(data: dict[str, Any]) -> str:
    """A display_data or execute_result bundle as text."""
    images = [kind for kind in _IMAGE_KINDS if kind in data]
    if images:
        return describe_image(images[0], data[images[0]])
    html = str(data.get("text/html", ""))
    parts = [str(data["text/plain"])] if "text/plain" in data else []
    if html and ("<table" in html.lower() or not parts):
        parts.append(describe_html(html))
    return "\n".join(parts) or f"[{', '.join(sorted(data))}]"


def render_output(output: NotebookNode) -> str:
    """One output of a code cell as text."""
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", "")).rstrip("\n")
    if kind == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    text = render_data(output.get("data", {}))
    if kind == "execute_result":
        separator = "\n" if "\n" in text else " "  # a multi-line value starts on its own line, as in IPython
        return f"Out[{output.get('execution_count') or ' '}]:{separator}{text}"
    return text


def merge_streams(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Consecutive stream outputs of one stream joined, as a notebook frontend shows them."""
    merged: list[NotebookNode] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if output.get("output_type") == "stream" and last is not None and last.get("output_type") == "stream":
            if last.get("name") == output.get("name"):
                merged[-1] = NotebookNode({**last, "text": last.get("text", "") + output.get("text", "")})
                continue
        merged.append(output)
    return merged


def render_cell(cell: NotebookNode) -> str:
    """A cell as a reader sees it: markdown as written, code with its outputs."""
    if cell.cell_type != "code":
        return cell.source.strip()
    prompt = f"In [{cell.get('execution_count') or ' '}]: "
    lines = cell.source.splitlines() or [""]
    source = "\n".join([prompt + lines[0], *(" " * len(prompt) + line for line in lines[1:])])
    outputs = [render_output(output) for output in merge_streams(cell.get("outputs", []))]
    return "\n".join([source, *(text for text in outputs if text)])


class CellPrinter:
    """Prints the cells of a notebook in order, as execution reaches them."""

    def __init__(self, notebook: NotebookNode) -> None:
        self.notebook = notebook
        self.printed = 0
        self.current = 0

    def started(self, cell: NotebookNode, cell_index: int, **_: Any) -> None:
        self.current = cell_index

    def executed(self, cell: NotebookNode, cell_index: int, **_: Any) -> None:
        self.print_through(cell_index)

    def print_through(self, last: int) -> None:
        """Print every cell not yet printed, up to index ``last``."""
        cells = self.notebook.cells
        while self.printed <= min(last, len(cells) - 1):
            print(render_cell(cells[self.printed]) + "\n", flush=True)
            self.printed += 1


def failure_message(notebook: NotebookNode, index: int, error: Exception) -> str:
    """One line naming the failed cell and why."""
    cell = notebook.cells[index]
    count = cell.get("execution_count") or " "
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    if isinstance(error, CellExecutionError):
        reason = f"{error.ename}: {error.evalue}"
    elif isinstance(error, CellTimeoutError):
        reason = f"timed out after {CELL_TIMEOUT} s"
    else:
        reason = f"{type(error).__name__}: {error}"
    reason = (reason.strip().splitlines() or [""])[0]
    return f"cell In [{count}] (cell {index + 1} of {len(notebook.cells)}, {first!r}) failed: {reason}"


def execute(notebook: NotebookNode, folder: Path) -> str | None:
    """Run the notebook, printing cells as they finish; return a failure message or ``None``."""
    printer = CellPrinter(notebook)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(folder)}},
        on_cell_start=printer.started,
        on_cell_executed=printer.executed,
    )
    try:
        client.execute()
    except NoSuchKernel as error:
        raise NotebookInputError(f"the notebook's kernel {error.name!r} is not installed") from None
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        printer.print_through(printer.current)
        return failure_message(notebook, printer.current, error)
    printer.print_through(len(notebook.cells) - 1)
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: the notebook, and where to write the executed copy."""
    parser = argparse.ArgumentParser(description="Run a notebook headless and print its cells and outputs as text.")
    parser.add_argument("notebook", type=Path, help="the .ipynb file to run")
    parser.add_argument("--output", type=Path, metavar="PATH", help="also write the executed notebook here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the notebook named on the command line; return the exit status."""
    args = parse_args(argv)
    try:
        notebook = read_notebook(args.notebook)
        failure = execute(notebook, args.notebook.resolve().parent)
    except NotebookInputError as error:
        print(f"show_notebook: {error}", file=sys.stderr)
        return 2
    if args.output is not None:
        try:
            nbformat.write(notebook, args.output)
        except OSError as error:
            print(f"show_notebook: cannot write {args.output}: {error.strerror}", file=sys.stderr)
            return 2
    if failure is not None:
        print(f"show_notebook: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
