"""The ``%cellfleet`` subcommands: status, start, drop, datasets and shutdown.

:func:`cellfleet_command` reads the magic's line and returns what it prints; mistakes raise
IPython's one-line ``UsageError`` saying the fix.
"""

from __future__ import annotations

import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError

from cellfleet.config import load_settings
from cellfleet.errors import CellfleetError
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.published import datasets_table
from cellfleet.kernel.session import sessions
from cellfleet.kernel.shared import StartProblem, start_command
from cellfleet.kernel.transfers import drop_command, held_status
from cellfleet.kernel.workers import describe_clusters

__all__ = ["cellfleet_command", "check_settings", "cluster_option"]

_COMMANDS = (
    "%cellfleet status [--cluster ADDRESS], %cellfleet start [OPTIONS], %cellfleet drop NAME|all, "
    "%cellfleet datasets [--cluster ADDRESS] or %cellfleet shutdown"
)


def cellfleet_command(line: str, shell: Any) -> str:
    """What ``%cellfleet LINE`` prints."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise UsageError(f"%cellfleet: cannot read the arguments ({error}): check the quotes") from None
    if not words or words[0] == "status":
        address = cluster_option(words[1:], "%cellfleet status")
        return describe_clusters(address, check_settings().scheduler) + held_status(shell)
    if words[0] == "start":
        return _start_shared(words[1:])
    if words[0] == "drop":
        return drop_command(words[1:], shell)
    if words[0] == "datasets":
        try:
            return datasets_table(cluster_option(words[1:], "%cellfleet datasets"))
        except OptionError as error:
            raise UsageError(str(error)) from None
    if words == ["shutdown"]:
        return _shutdown()
    raise UsageError(f"%cellfleet {line.strip()}: unknown command; use {_COMMANDS}")


def cluster_option(words: list[str], command: str) -> str | None:
    """The ``--cluster ADDRESS`` of ``words``, if given (nothing else may be)."""
    if not words:
        return None
    if len(words) == 2 and words[0] == "--cluster":
        return words[1]
    if len(words) == 1 and words[0].startswith("--cluster="):
        return words[0].partition("=")[2] or _cluster_usage(command)
    return _cluster_usage(command)


def _cluster_usage(command: str) -> NoReturn:
    raise UsageError(f"{command} takes at most --cluster ADDRESS, like {command} --cluster tcp://host:8786")


def check_settings() -> Any:
    """The settings, or a UsageError naming the bad environment variable."""
    try:
        return load_settings()
    except ValueError as error:
        raise UsageError(str(error)) from None


def _start_shared(words: list[str]) -> str:
    """``%cellfleet start``: the shared cluster, and what this kernel does about it."""
    try:
        text = start_command(words)
    except StartProblem as error:
        if error.usage:
            raise UsageError(f"%cellfleet start: {error}") from None
        raise CellfleetError(str(error)) from None
    current = sessions.default()
    if current is not None and current.embedded:
        text += (
            "\n(this kernel still uses its private cluster: %cellfleet shutdown, and the next cell uses the shared one)"
        )
    return text


def _shutdown() -> str:
    """``%cellfleet shutdown``: close the embedded cluster, or leave the shared one (it runs on)."""
    current = sessions.default()
    if current is None or not sessions.shutdown_embedded():
        return "cellfleet: no embedded cluster runs"
    if current.shared is not None:
        return (
            f"cellfleet: this kernel left the shared cluster at {current.address}, which runs on "
            "(cellfleet cluster stop ends it); the next cell connects again"
        )
    return "cellfleet: embedded cluster closed"
