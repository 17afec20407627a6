"""One status report, as JSON and as Prometheus text that a real parser accepts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tauro.actors.llm import LatencyHistogram
from tauro.actors.web import ActorStatus, LatencySummary, StatusReport
from tauro.actors.web._status import numeric_fields, render_metrics, status_json

REPORT = StatusReport(
    uptime_s=12.5,
    actors=(ActorStatus("memory", "running", 0, 3, 40), ActorStatus("llm", "restarting", 2, 0, 7)),
    llm=LatencySummary(
        first_token={"p50": 0.1, "p95": 0.4, "p99": 0.9, "max": 1.0},
        total={"p50": 1.5, "p95": 2.0, "p99": 3.0, "max": 3.5},
        counters={"completed": 7, "model": "llama2", "last_error": None},
        histograms=(
            LatencyHistogram(
                kind="first_token",
                provider="ollama",
                model="llama2",
                buckets=((0.1, 1), (0.5, 3), (float("inf"), 4)),
                sum=1.4,
                count=4,
            ),
            LatencyHistogram(
                kind="generation",
                provider="ollama",
                model="llama2",
                buckets=((1.0, 0), (2.5, 2), (float("inf"), 2)),
                sum=3.5,
                count=2,
            ),
        ),
    ),
    memory={
        "journal_appends": 40,
        "fsyncs": 12,
        "snapshots": 1,
        "errors": 0,
        "conversations": 3,
        "last_error": None,
    },
    voice={"syntheses": 2, "workers_running": 1},
    web={"turns": 5, "open_streams": 1},
)


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(render_metrics(REPORT).decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_parse_and_carry_every_section() -> None:
    samples = _samples()
    assert samples[("tauro_uptime_seconds", ())] == 12.5
    assert samples[("tauro_actor_state", (("actor", "llm"), ("state", "restarting")))] == 1
    assert samples[("tauro_actor_restarts_total", (("actor", "llm"),))] == 2
    assert samples[("tauro_actor_mailbox_depth", (("actor", "memory"),))] == 3
    assert samples[("tauro_actor_messages_handled_total", (("actor", "memory"),))] == 40
    model = (("model", "llama2"), ("provider", "ollama"))
    assert samples[("tauro_llm_first_token_seconds_bucket", (("le", "0.5"), *model))] == 3
    assert samples[("tauro_llm_first_token_seconds_bucket", (("le", "+Inf"), *model))] == 4
    assert samples[("tauro_llm_first_token_seconds_count", model)] == 4
    assert samples[("tauro_llm_first_token_seconds_sum", model)] == 1.4
    assert samples[("tauro_llm_generation_seconds_bucket", (("le", "2.5"), *model))] == 2
    assert not any("quantile" in dict(labels) for _, labels in samples)  # no percentiles
    assert samples[("tauro_llm_completed_total", ())] == 7
    assert samples[("tauro_memory_fsyncs_total", ())] == 12
    assert samples[("tauro_memory_conversations", ())] == 3  # a gauge: it can go down
    assert samples[("tauro_voice_syntheses_total", ())] == 2
    assert samples[("tauro_web_open_streams", ())] == 1


def test_text_fields_stay_out_of_the_metrics() -> None:
    names = {name for name, _ in _samples()}
    assert not any("model" in name or "last_error" in name for name in names)


def test_json_keeps_everything() -> None:
    data: Any = status_json(REPORT)  # JSON: what the page reads, by key
    assert data["uptime_s"] == 12.5
    assert data["actors"][0] == {
        "name": "memory",
        "state": "running",
        "restarts": 0,
        "mailbox_depth": 3,
        "handled": 40,
    }
    assert data["llm"]["counters"]["model"] == "llama2"
    assert "histograms" not in data["llm"]  # /metrics carries them; JSON has no +Inf
    json.dumps(data, allow_nan=False)
    assert data["memory"]["journal_appends"] == 40


def test_empty_report_renders() -> None:
    text = render_metrics(StatusReport(uptime_s=0.0)).decode()
    assert "tauro_uptime_seconds 0.0" in text


@dataclass(frozen=True, slots=True)
class _Stats:
    count: int
    ratio: float
    label: str
    missing: None
    nested: tuple[int, ...]
    flag: bool


def test_numeric_fields_keeps_scalars_only() -> None:
    stats = _Stats(1, 0.5, "x", None, (1,), True)
    assert numeric_fields(stats) == {
        "count": 1,
        "ratio": 0.5,
        "label": "x",
        "missing": None,
        "flag": True,
    }
    assert numeric_fields(None) == {}
    assert numeric_fields(_Stats) == {}
