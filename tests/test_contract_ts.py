"""The panel's TypeScript lists the same states and policies as the Python enums."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cellfleet.protocol import Catchup, JobState, NotifyOn, OccurrenceState, Overlap, RunKind, RunStatus, values_of

ROOT = Path(__file__).resolve().parents[1]
TOKENS = (ROOT / "jupyter_ext" / "tokens.ts").read_text()


def typescript_list(name: str) -> tuple[str, ...]:
    """The string values of ``export const NAME = [...] as const`` in tokens.ts."""
    match = re.search(rf"export const {name} = \[(.*?)\] as const;", TOKENS, re.S)
    assert match is not None, f"{name} is missing from jupyter_ext/tokens.ts"
    return tuple(re.findall(r"'([^']*)'", match.group(1)))


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("RUN_STATUSES", RunStatus),
        ("RUN_KINDS", RunKind),
        ("OCCURRENCE_STATES", OccurrenceState),
        ("JOB_STATES", JobState),
        ("OVERLAP_POLICIES", Overlap),
        ("CATCHUP_POLICIES", Catchup),
        ("NOTIFY_ON", NotifyOn),
    ],
)
def test_typescript_lists_the_python_enum(name, enum):
    assert typescript_list(name) == values_of(enum)


def test_the_status_filter_offers_every_run_state():
    runs_view = (ROOT / "jupyter_ext" / "runs.tsx").read_text()
    assert "...RUN_STATUSES" in runs_view
    marks = (ROOT / "jupyter_ext" / "table.tsx").read_text()
    block = re.search(r"STATUS_MARKS: Record<RunStatus, string> = \{(.*?)\};", marks, re.S)
    assert block is not None
    assert tuple(re.findall(r"^\s*(\w+):", block.group(1), re.M)) == values_of(RunStatus)
