"""The job spec: what a promotion asks for, checked once whichever door it came in by.

``cellfleet promote`` and ``%promote`` build a :class:`JobSpec` from their parsed
arguments (:meth:`JobSpec.from_args`), the server from the promote dialog's JSON body
(:meth:`JobSpec.from_json`). Construction checks every field, so a spec that exists is
valid; each mistake raises one line naming the field and the fix.
"""

from __future__ import annotations

import argparse
import ast
import enum
import reprlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cellfleet.errors import PromotionError
from cellfleet.production.expect import parse_expectations
from cellfleet.production.schedules import Schedule, parse_duration, parse_schedule
from cellfleet.protocol import Catchup, NotifyOn, Overlap, RetryOn, values_of

__all__ = ["BOUNDS", "JSON_FIELDS", "LENGTHS", "JobSpec", "add_job_arguments", "parse_params"]

BOUNDS: Mapping[str, tuple[int, int]] = {"retries": (0, 99), "concurrency": (1, 1000)}
"""The whole-number fields and their inclusive ranges."""

LENGTHS: Mapping[str, int] = {"name": 200, "notify_url": 2000, "param name": 100, "param value": 10_000}
"""The most characters a job's name, notify URL, parameter name and parameter value may hold
(a value that is not a string counts as its ``repr``)."""

JSON_FIELDS: tuple[str, ...] = (
    *("cron", "every", "name", "from_run", "cluster", "timeout", "overlap", "catchup", "notify", "notify_on"),
    *("kernel", "retries", "concurrency", "retry_on", "expect", "after"),
)
"""The promote dialog's option keys besides ``params`` (``notify`` is :attr:`JobSpec.notify_url`;
``--check`` is the CLI's and ``%promote``'s only: it runs the notebook before answering)."""

_TEXT = ("name", "cron", "every", "from_run", "cluster", "timeout", "notify_url", "kernel", "after")
_ENUMS: Mapping[str, type[enum.Enum]] = {
    "overlap": Overlap,
    "catchup": Catchup,
    "notify_on": NotifyOn,
    "retry_on": RetryOn,
}
_MOST_EXPECTATIONS = 100
_KEYS = {"notify_url": "notify"}  # field -> its JSON key / CLI option, where they differ

_E = TypeVar("_E", bound=enum.Enum)


def _key(name: str) -> str:
    return _KEYS.get(name, name)


def _member(kind: type[_E], value: Any, label: str) -> _E:
    """``value`` as a member of ``kind`` (a member, or its wire value)."""
    if isinstance(value, kind):
        return value
    if not isinstance(value, str):
        raise PromotionError(f"{label} must be a string")
    choices = values_of(kind)
    if value in choices:
        return kind(value)
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}"
    raise PromotionError(f"{label} must be {listed} (got {reprlib.repr(value)})")


def _check_lengths(name: str | None, notify_url: str | None, params: Mapping[str, Any]) -> None:
    """Refuse text longer than :data:`LENGTHS` allows, naming the limit."""
    texts = [("name", name, "name"), ("notify", notify_url, "notify_url")]
    texts += [(f"parameter name {reprlib.repr(key)}", key, "param name") for key in params]
    texts += [(f"the value of parameter {key!r}", v if isinstance(v, str) else repr(v), "param value")
              for key, v in params.items()]  # fmt: skip
    for label, text, kind in texts:
        if text is not None and len(text) > LENGTHS[kind]:
            raise PromotionError(f"{label} must be at most {LENGTHS[kind]} characters (got {len(text)})")


def _check_after(after: str | None, schedule: Schedule | None, check: Any) -> None:
    if not isinstance(check, bool):
        raise PromotionError("check must be true or false")
    if after is None:
        return
    if not after.strip() or len(after) > LENGTHS["name"]:
        raise PromotionError(f"--after must name a job (at most {LENGTHS['name']} characters)")
    if schedule is not None:
        raise PromotionError(
            f"--after {after} runs the job after each successful run of {after}, so it has no schedule of its own: "
            "drop --cron/--every"
        )


def _whole(value: Any, label: str) -> None:
    low, high = BOUNDS[label]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise PromotionError(f"{label} must be a whole number from {low} to {high}")


@dataclass(frozen=True)
class JobSpec:
    """A promotion's options: the schedule, params and run policies of the job to make.

    Text fields hold what the user wrote (``cron="0 2 * * *"``, ``every="1h"``,
    ``timeout="30m"``); :attr:`schedule` and :attr:`timeout_seconds` are what they mean.
    Enum fields accept their members or wire values (``overlap="queue"``) and hold members.
    """

    name: str | None = None
    """The job's name; ``None`` or empty: the notebook's name."""
    cron: str | None = None
    every: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    """Typed parameter values; they win over those of :attr:`from_run`."""
    from_run: str | None = None
    """A run (id or prefix) whose params the job takes."""
    cluster: str | None = None
    retries: int = 0
    timeout: str | None = None
    concurrency: int = 1
    overlap: Overlap = Overlap.SKIP
    catchup: Catchup = Catchup.LATEST
    notify_url: str | None = None
    notify_on: NotifyOn = NotifyOn.FAILURE
    kernel: str | None = None
    retry_on: RetryOn = RetryOn.INFRA
    """Which failures :attr:`retries` retry: ``infra`` (all but the cell's own exception) or ``all``."""
    expect: tuple[str, ...] = ()
    """Bounds on the final metrics, like ``"val_loss<0.2"`` (held in their written-out form)."""
    after: str | None = None
    """The name of the job whose every successful run starts this one (instead of a schedule)."""
    check: bool = False
    """Run the snapshot once, now, before the job is active; a failed run makes no job."""
    schedule: Schedule | None = field(init=False, repr=False)
    """The schedule :attr:`cron` or :attr:`every` gives; ``None``: run on demand."""
    timeout_seconds: float | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Check every field; coerce wire values to enum members and params to a dict."""
        if not isinstance(self.params, Mapping) or not all(isinstance(key, str) for key in self.params):
            raise PromotionError("params must be an object of parameter names to values")
        object.__setattr__(self, "params", dict(self.params))
        for name in _TEXT:
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise PromotionError(f"{_key(name)} must be a string")
        _check_lengths(self.name, self.notify_url, self.params)
        for name in BOUNDS:
            _whole(getattr(self, name), name)
        for name, kind in _ENUMS.items():
            object.__setattr__(self, name, _member(kind, getattr(self, name), name))
        expectations = parse_expectations(self.expect)
        if len(expectations) > _MOST_EXPECTATIONS:
            raise PromotionError(f"expect may hold at most {_MOST_EXPECTATIONS} expectations (got {len(expectations)})")
        object.__setattr__(self, "expect", tuple(str(expectation) for expectation in expectations))
        object.__setattr__(self, "schedule", parse_schedule(self.cron, self.every))
        _check_after(self.after, self.schedule, self.check)
        seconds = parse_duration(self.timeout, "--timeout") if self.timeout else None
        object.__setattr__(self, "timeout_seconds", seconds)
        if self.notify_url and not self.notify_url.startswith(("http://", "https://")):
            raise PromotionError(f"--notify {self.notify_url!r}: give an http:// or https:// URL")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> JobSpec:
        """The spec from arguments parsed by a parser given :func:`add_job_arguments`."""
        return cls(
            name=args.name, cron=args.cron, every=args.every, params=parse_params(args.param),
            from_run=args.from_run, cluster=args.cluster, retries=args.retries, timeout=args.timeout,
            concurrency=args.concurrency, overlap=args.overlap, catchup=args.catchup, notify_url=args.notify,
            notify_on=args.notify_on, kernel=args.kernel, retry_on=args.retry_on, expect=tuple(args.expect or ()),
            after=args.after, check=args.check,
        )  # fmt: skip

    @classmethod
    def from_json(cls, body: Mapping[str, Any], also: Collection[str] = ()) -> JobSpec:
        """The spec from a JSON object of :data:`JSON_FIELDS` and ``params``; ``null`` means the default.

        ``also`` names keys the caller reads itself (the server's ``notebook``); any other
        key is refused.
        """
        known = (*also, "params", *JSON_FIELDS)
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise PromotionError(f"unknown field {unknown[0]!r}; the fields are {', '.join(known)}")
        fields: dict[str, Any] = {"params": body.get("params") or {}}
        for name in (*_TEXT, *BOUNDS, *_ENUMS):
            if body.get(_key(name)) is not None:
                fields[name] = body[_key(name)]
        if body.get("expect") is not None:
            fields["expect"] = body["expect"]
        return cls(**fields)

    def job_fields(self) -> dict[str, Any]:
        """The job's columns this spec decides (enum fields as their wire values)."""
        return {
            "schedule": self.schedule.text if self.schedule else None,
            "cluster": self.cluster, "retries": self.retries, "timeout": self.timeout_seconds,
            "concurrency": self.concurrency, "overlap": self.overlap.value, "catchup": self.catchup.value,
            "notify_url": self.notify_url, "notify_on": self.notify_on.value, "kernel": self.kernel,
            "from_run": self.from_run, "retry_on": self.retry_on.value, "expect": list(self.expect),
            "after": self.after,
        }  # fmt: skip


def parse_params(pairs: list[list[str]] | None) -> dict[str, Any]:
    """``-p KEY VALUE`` pairs; values are Python literals, or strings when they are not."""
    params: dict[str, Any] = {}
    for key, value in pairs or []:
        if not key.isidentifier():
            raise PromotionError(f"-p {key}: parameter names are variable names")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cellfleet promote`` and ``%promote``, read by :meth:`JobSpec.from_args`."""
    parser.add_argument("--cron", help='a cron schedule, like "0 2 * * *"')
    parser.add_argument("--every", help="a fixed interval, like 30s, 5m or 1h")
    parser.add_argument("--name", help="the job's name (default: the notebook's name)")
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="a parameter")
    parser.add_argument("--from-run", help="take params from this run (explicit -p wins)")
    parser.add_argument("--cluster", help="the Dask scheduler the job's %%remote cells use")
    parser.add_argument("--retries", type=int, default=0, help="runs again after a failure (default 0, at most 99)")
    parser.add_argument("--retry-on", choices=values_of(RetryOn), default=RetryOn.INFRA.value,
                        help="which failures --retries retries: infra (default: all but the cell's own "
                             "exception) or all")  # fmt: skip
    parser.add_argument("--expect", action="append", metavar="EXPR",
                        help='a bound the final metrics must meet, like "val_loss<0.2" (repeat for more); '
                             "a run that breaks one fails, and is not retried")  # fmt: skip
    parser.add_argument("--timeout", help="stop a run after this long, like 30m")
    parser.add_argument("--concurrency", type=int, default=1, help="runs of this job at once (default 1)")
    parser.add_argument("--overlap", choices=values_of(Overlap), default=Overlap.SKIP.value,
                        help="when the previous run still goes")  # fmt: skip
    parser.add_argument("--catchup", choices=values_of(Catchup), default=Catchup.LATEST.value,
                        help="occurrences missed while down")  # fmt: skip
    parser.add_argument("--notify", metavar="URL", help="POST a JSON summary here")
    parser.add_argument("--notify-on", choices=values_of(NotifyOn), default=NotifyOn.FAILURE.value)
    parser.add_argument("--kernel", help="the kernel to run with (default: the notebook's)")
    parser.add_argument("--after", metavar="JOB",
                        help="run after each successful run of JOB, with its run id and cellfleet.output values "
                             "as parameters (instead of --cron/--every)")  # fmt: skip
    parser.add_argument("--check", action="store_true",
                        help="run the notebook once now, on the job's cluster; make the job only if it "
                             "succeeds")  # fmt: skip
