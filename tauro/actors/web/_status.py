"""The operator's view: one status snapshot, as JSON and as Prometheus text.

Why a snapshot object rather than live prometheus_client metrics: the numbers
belong to other actors (the runtime's statistics, the MemoryActor's counters,
the LLM's latencies). Each request gathers one consistent :class:`StatusReport`
and a collector renders exactly that, so /api/status and /metrics never disagree
and no module-global registry is shared between tests or restarts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tauro.actors.llm import LatencyHistogram

__all__ = [
    "ActorStatus",
    "LatencySummary",
    "StatusReport",
    "numeric_fields",
    "render_metrics",
    "status_json",
]

Scalar = int | float | str | None


@dataclass(frozen=True)
class ActorStatus:
    name: str
    state: str  # "running", "restarting", "stopped", ... (tauro.runtime.ActorState)
    restarts: int
    mailbox_depth: int
    handled: int  # messages handled since the system started


@dataclass(frozen=True)
class LatencySummary:
    """The LLM's recent latencies (seconds, keys p50/p95/p99/max) and counters.

    ``histograms`` (cumulative since start, per provider and model) are what
    /metrics exposes; the percentiles are for people reading /api/status.
    """

    first_token: Mapping[str, float] = field(default_factory=dict)
    total: Mapping[str, float] = field(default_factory=dict)
    counters: Mapping[str, Scalar] = field(default_factory=dict)
    histograms: tuple[LatencyHistogram, ...] = ()


@dataclass(frozen=True)
class StatusReport:
    uptime_s: float
    actors: tuple[ActorStatus, ...] = ()
    llm: LatencySummary = field(default_factory=LatencySummary)
    memory: Mapping[str, Scalar] = field(default_factory=dict)
    voice: Mapping[str, Scalar] = field(default_factory=dict)
    web: Mapping[str, Scalar] = field(default_factory=dict)


def numeric_fields(stats: object) -> dict[str, Scalar]:
    """A dataclass's scalar fields, for counters whose exact shape another actor owns."""
    if not dataclasses.is_dataclass(stats) or isinstance(stats, type):
        return {}
    out: dict[str, Scalar] = {}
    for item in dataclasses.fields(stats):
        value = getattr(stats, item.name)
        if value is None or isinstance(value, int | float | str):
            out[item.name] = value
    return out


def status_json(report: StatusReport) -> dict[str, object]:
    """The report as JSON; the latency histograms are for /metrics only (their last
    bucket is +Inf, which JSON cannot carry)."""
    data = dataclasses.asdict(report)
    llm = data["llm"]
    assert isinstance(llm, dict)
    llm.pop("histograms", None)
    return data


# Fields of other actors' statistics that only ever grow (Prometheus counters).
_MEMORY_COUNTERS = ("journal_appends", "fsyncs", "snapshots", "bytes_written", "errors", "batches")
_VOICE_COUNTERS = ("syntheses", "cache_hits", "failures", "engine_crashes")
_LLM_COUNTERS = (
    "started",
    "completed",
    "cut",
    "failed",
    "cancelled",
    "retries",
    "completion_tokens",
)
_WEB_COUNTERS = ("turns", "turns_failed", "requests", "rejected", "logins")
_COUNTERS = frozenset(_MEMORY_COUNTERS + _VOICE_COUNTERS + _LLM_COUNTERS + _WEB_COUNTERS)


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


_HISTOGRAMS = {
    "first_token": "Seconds from the LLM request to the first text of the answer.",
    "generation": "Seconds from the LLM request to the end of a complete answer.",
}


def _latency_metrics(llm: LatencySummary) -> Iterator[Metric]:
    for kind, help_text in _HISTOGRAMS.items():
        family = HistogramMetricFamily(
            f"tauro_llm_{kind}_seconds", help_text, labels=["provider", "model"]
        )
        for histogram in llm.histograms:
            if histogram.kind == kind:
                buckets = [(_le(bound), count) for bound, count in histogram.buckets]
                family.add_metric(
                    [histogram.provider, histogram.model], buckets, sum_value=histogram.sum
                )
        yield family
    yield from _section_metrics("llm", llm.counters)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


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
