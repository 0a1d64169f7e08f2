"""The API cells call: ``cellfleet.log``, ``cellfleet.log_artifact``, ``cellfleet.output`` and ``cellfleet.publish``.

Inside a remote cell (or variant) the values travel with the cell's output and reach the
store while the cell runs; in a local cell they are recorded against a run for that cell
(in a production run, against that run). Declared outputs are the values a job hands the
jobs promoted ``--after`` it, as papermill parameters.
"""

from __future__ import annotations

import io
import json
import keyword
import math
import numbers
import reprlib
import warnings
from pathlib import Path
from typing import Any

from cellfleet.protocol import UPSTREAM_PARAMETER
from cellfleet.worker.capture import active_capture
from cellfleet.worker.pruning import stop_if_pruned

__all__ = ["OUTPUT_LIMIT", "RESERVED_OUTPUTS", "log", "log_artifact", "output", "publish"]

_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".html": "text/html",
    ".ipynb": "application/x-ipynb+json",
}
ARTIFACT_LIMIT = 256 * 2**20
OUTPUT_LIMIT = 2**20
"""The most characters one declared output's JSON may hold."""
RESERVED_OUTPUTS = (UPSTREAM_PARAMETER,)
"""Parameter names the scheduler gives a downstream job itself."""


def _numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics as floats; NaN and infinite values are dropped with a warning, not raised,
    so a diverging training loop keeps running and its run records why."""
    values = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not (isinstance(value, numbers.Real) or hasattr(value, "__float__")):
            raise TypeError(f"cellfleet.log: {key}={value!r} is not a number; log numbers only")
        number = float(value)
        if math.isfinite(number):
            values[key] = number
        else:
            warnings.warn(f"cellfleet.log: {key} is {number}; that point is not stored", RuntimeWarning, stacklevel=3)
    return values


def log(step: int | None = None, **metrics: Any) -> None:
    """Record numeric metrics for the current run: ``cellfleet.log(step=3, loss=0.2, acc=0.91)``.

    With ``step`` the points form a series; without, each call records the latest value.
    In a ``%%remote --search`` trial that the search's pruner stopped, it raises
    :class:`~cellfleet.errors.TrialPruned` (after recording the values).
    """
    if not metrics:
        raise TypeError("cellfleet.log needs at least one metric, like cellfleet.log(loss=0.2)")
    if step is not None and not isinstance(step, numbers.Integral):
        raise TypeError(f"cellfleet.log: step must be a whole number (got {step!r})")
    values = _numeric(metrics)
    capture = active_capture()
    if capture is not None:
        if values:
            capture.metric(values, None if step is None else int(step))
        stop_if_pruned(capture.cell_id)  # a search trial its pruner stopped ends here
        return
    if not values:
        return
    from cellfleet.kernel.context import local_recorder

    local_recorder().metric(values, None if step is None else int(step), _now())


def log_artifact(path_or_figure: Any, name: str | None = None) -> None:
    """Attach a file, or a matplotlib figure (saved as PNG), to the current run."""
    data, default_name, media_type = _artifact_bytes(path_or_figure)
    if len(data) > ARTIFACT_LIMIT:
        raise ValueError(f"cellfleet.log_artifact: {default_name} is over 256 MiB; store large data elsewhere")
    chosen = Path(name or default_name).name
    capture = active_capture()
    if capture is not None:
        capture.artifact(chosen, data, media_type)
        return
    from cellfleet.kernel.context import local_recorder

    local_recorder().artifact(chosen, data, media_type)


def _is_output_name(name: str) -> bool:
    """Whether ``name`` can be an output: a downstream notebook gets it as a variable."""
    return name.isidentifier() and not keyword.iskeyword(name) and len(name) <= 128


def output(**values: Any) -> None:
    """Declare outputs of the current run: ``cellfleet.output(rows=1200, table="clean.parquet")``.

    Each value is stored with the run as JSON (strings, numbers, booleans, ``None``, and lists
    and dicts of them); a later call for a name replaces it. A job promoted ``--after`` this
    notebook's job receives them, with ``upstream_run_id``, as papermill parameters. Call it
    in the notebook's own cells, not inside ``%%remote``: the values a remote cell assigns
    come back to the notebook, which declares them.
    """
    if not values:
        raise TypeError("cellfleet.output needs at least one name=value, like cellfleet.output(rows=1200)")
    texts = {name: _json_text(name, value) for name, value in values.items()}
    if active_capture() is not None:
        raise RuntimeError(
            "cellfleet.output records in the notebook's own process, not inside %%remote: call it in the next "
            "local cell with the values this cell assigns"
        )
    from cellfleet.kernel.context import local_recorder

    local_recorder().declare(texts)


def publish(**values: Any) -> None:
    """Keep values on the cluster under their names, beyond this kernel: ``cellfleet.publish(model=model)``.

    Inside a ``%%remote`` cell each value stays in the worker's memory, the very object the cell
    made; in a local cell a remote handle or persisted collection is published where it is, and
    another value is sent to the cluster. ``%attach NAME`` in any kernel on that cluster gives a
    handle to it, ``%cellfleet datasets`` lists them, ``%unpublish NAME`` removes one; a name
    published again is replaced.
    """
    if active_capture() is not None:
        from cellfleet.worker.published import publish_here

        replaced = publish_here(values)
        print(f"cellfleet: published {', '.join(values)}: %attach {' '.join(values)} in any kernel on this cluster")
        if replaced:
            print(f"cellfleet: replaced the {', '.join(replaced)} published before")
        return
    from cellfleet.kernel.published import publish_local

    publish_local(values)


def _json_text(name: str, value: Any) -> str:
    if not _is_output_name(name):
        raise ValueError(
            f"cellfleet.output: {reprlib.repr(name)} is not a Python name of up to 128 characters; downstream "
            "jobs receive each output as a variable of that name"
        )
    if name in RESERVED_OUTPUTS:
        raise ValueError(f"cellfleet.output: {name} is given to downstream jobs by the scheduler; use another name")
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"cellfleet.output: {name}={reprlib.repr(value)} cannot be stored as JSON ({error}); give strings, "
            "numbers, booleans, None, or lists and dicts of them (store large data as a file, and output its path)"
        ) from None
    if len(text) > OUTPUT_LIMIT:
        raise ValueError(f"cellfleet.output: {name} is over 1 MiB as JSON; store it as a file and output its path")
    return text


def _artifact_bytes(item: Any) -> tuple[bytes, str, str]:
    if hasattr(item, "savefig"):
        buffer = io.BytesIO()
        item.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue(), "figure.png", "image/png"
    path = Path(item)
    if not path.is_file():
        raise FileNotFoundError(f"cellfleet.log_artifact: no file at {path}; pass a file path or a matplotlib figure")
    media_type = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return path.read_bytes(), path.name, media_type


def _now() -> float:
    import time

    return time.time()
