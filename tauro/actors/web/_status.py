"""The operator's view: one status snapshot, as JSON and as Prometheus text.

Why a snapshot object rather than live prometheus_client metrics: the numbers
belong to other actors (the runtime's statistics, the MemoryActor's counters,
the LLM's latencies). Each request gathers one consistent :class:`StatusReport`
and a collector renders exactly that, so /api/status and /metrics never disagree
and no module-global registry is shared between tests or restarts.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "QUANTILES",
    "ActorStatus",
    "LatencySummary",
    "LatencyWindow",
    "StatusReport",
    "numeric_fields",
    "render_metrics",
    "status_json",
]

QUANTILES = (0.5, 0.9, 0.99)
Number = int | float


@dataclass(frozen=True)
class ActorStatus:
    name: str
    state: str  # e.g. "running", "restarting", "stopped"
    restarts: int
    mailbox_depth: int
    handled: int  # messages handled since the system started


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of recent LLM answers, in seconds (None until there is one)."""

    count: int = 0
    first_token: Mapping[str, float | None] = field(default_factory=dict)
    total: Mapping[str, float | None] = field(default_factory=dict)
    errors: int = 0


@dataclass(frozen=True)
class StatusReport:
    uptime_s: float
    actors: tuple[ActorStatus, ...] = ()
    llm: LatencySummary = field(default_factory=LatencySummary)
    memory: Mapping[str, Number | str | None] = field(default_factory=dict)
    voice: Mapping[str, Number] = field(default_factory=dict)
    web: Mapping[str, Number] = field(default_factory=dict)


class LatencyWindow:
    """The last ``size`` latencies, for percentiles that follow recent behaviour."""

    def __init__(self, size: int = 1000) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self.count = 0

    def add(self, seconds: float) -> None:
        self._values.append(seconds)
        self.count += 1

    def percentiles(self) -> dict[str, float | None]:
        ordered = sorted(self._values)
        return {_q_label(q): _nearest_rank(ordered, q) for q in QUANTILES}


def _q_label(q: float) -> str:
    return f"p{round(q * 100)}"


def _nearest_rank(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def numeric_fields(stats: object) -> dict[str, Number | str | None]:
    """A dataclass's scalar fields, for counters whose exact shape another actor owns."""
    if not dataclasses.is_dataclass(stats) or isinstance(stats, type):
        return {}
    out: dict[str, Number | str | None] = {}
    for item in dataclasses.fields(stats):
        value = getattr(stats, item.name)
        if value is None or isinstance(value, int | float | str):
            out[item.name] = value
    return out


def status_json(report: StatusReport) -> dict[str, object]:
    return dataclasses.asdict(report)


# Fields of other actors' statistics that only ever grow (Prometheus counters).
_COUNTERS = frozenset(
    {
        "journal_appends",
        "fsyncs",
        "snapshots",
        "bytes_written",
        "errors",
        "syntheses",
        "cache_hits",
        "failures",
        "turns",
        "turns_failed",
        "requests",
        "rejected",
    }
)


class _ReportCollector(Collector):
    def __init__(self, report: StatusReport) -> None:
        self._report = report

    def collect(self) -> Iterator[Metric]:
        report = self._report
        yield GaugeMetricFamily(
            "tauro_uptime_seconds", "Seconds since the web actor started.", value=report.uptime_s
        )
        yield from _actor_metrics(report.actors)
        yield from _latency_metrics(report.llm)
        for section in ("memory", "voice", "web"):
            yield from _section_metrics(section, getattr(report, section))


def _actor_metrics(actors: Sequence[ActorStatus]) -> Iterator[Metric]:
    state = GaugeMetricFamily(
        "tauro_actor_state", "1 for the state each actor is in.", labels=["actor", "state"]
    )
    restarts = CounterMetricFamily(
        "tauro_actor_restarts", "Restarts by the supervisor.", labels=["actor"]
    )
    depth = GaugeMetricFamily(
        "tauro_actor_mailbox_depth", "Messages waiting in the mailbox.", labels=["actor"]
    )
    handled = CounterMetricFamily(
        "tauro_actor_messages_handled", "Messages handled.", labels=["actor"]
    )
    for actor in actors:
        state.add_metric([actor.name, actor.state], 1)
        restarts.add_metric([actor.name], actor.restarts)
        depth.add_metric([actor.name], actor.mailbox_depth)
        handled.add_metric([actor.name], actor.handled)
    yield from (state, restarts, depth, handled)


def _latency_metrics(llm: LatencySummary) -> Iterator[Metric]:
    for kind, values in (("first_token", llm.first_token), ("total", llm.total)):
        family = GaugeMetricFamily(
            f"tauro_llm_{kind}_latency_seconds",
            f"LLM {kind.replace('_', ' ')} latency percentiles.",
            labels=["quantile"],
        )
        for label, value in values.items():
            quantile = str(int(label[1:]) / 100)
            family.add_metric([quantile], math.nan if value is None else value)
        yield family
    yield CounterMetricFamily("tauro_llm_answers", "LLM answers measured.", value=llm.count)
    yield CounterMetricFamily("tauro_llm_errors", "LLM requests that failed.", value=llm.errors)


def _section_metrics(section: str, values: Mapping[str, object]) -> Iterator[Metric]:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        name = f"tauro_{section}_{key}"
        if key in _COUNTERS:
            yield CounterMetricFamily(name, f"{section} {key}.", value=value)
        else:
            yield GaugeMetricFamily(name, f"{section} {key}.", value=value)


def render_metrics(report: StatusReport) -> bytes:
    """Prometheus text exposition format (version 0.0.4) of one report."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReportCollector(report))
    return generate_latest(registry)
