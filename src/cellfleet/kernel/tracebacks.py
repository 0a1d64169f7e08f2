"""A remote cell's own exception, raised in the notebook with the worker's traceback."""

from __future__ import annotations

import re
from collections.abc import Container

import cloudpickle

from cellfleet.errors import RemoteCellError
from cellfleet.protocol import CellOutcome, RemoteFailure

__all__ = ["rebuild_exception"]

_NAME_ERROR = re.compile(r"^name '(\w+)' is not defined")


def rebuild_exception(outcome: CellOutcome, notebook: Container[str] = ()) -> BaseException:
    """The cell's own exception, to raise in the notebook with the worker's traceback.

    A ``NameError`` for a name the ``notebook`` has says why it was not sent.
    """
    failure = outcome.error
    assert failure is not None
    error: BaseException | None = None
    if failure.exception is not None:
        try:
            error = cloudpickle.loads(failure.exception)
        except Exception:  # its type does not load here: shown as RemoteCellError, same traceback
            error = None
    if error is None:
        error = RemoteCellError(f"{failure.type_name}: {failure.message}")
    lines = [*failure.traceback[:-1], _red_exception_line(failure.traceback[-1])]
    note = _unsent_name_note(failure, notebook)
    if note is not None:
        lines.append(note)
    if failure.note:
        lines.append(f"cellfleet: {failure.note}")
        _add_to_message(error, failure.note)
    try:
        error._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    except AttributeError:
        error = RemoteCellError("\n".join(failure.traceback))
    return error


def _add_to_message(error: BaseException, note: str) -> None:
    """Put ``note`` (the GPU and its memory in use, say) in the message, where a production run's
    error reads it (papermill keeps the exception's ``str``), when the message is its one argument."""
    if len(error.args) == 1 and isinstance(error.args[0], str):
        try:
            error.args = (f"{error.args[0]} [{note}]",)
        except Exception:  # an exception type that refuses new args keeps its own message
            pass


def _unsent_name_note(failure: RemoteFailure, notebook: Container[str]) -> str | None:
    """Why a name the notebook defines was missing on the worker, for its ``NameError``."""
    found = _NAME_ERROR.match(failure.message) if failure.type_name == "NameError" else None
    if found is None or found.group(1) not in notebook:
        return None
    return (
        f"cellfleet: {found.group(1)!r} is defined in the notebook but was not sent: the cell reads it only "
        "through exec, eval or globals(), which cellfleet cannot see; name it in the cell so it travels"
    )


def _red_exception_line(line: str) -> str:
    head, colon, rest = line.partition(":")
    return f"\x1b[0;31m{head}\x1b[0m{colon}{rest}"
