from collections import deque

from tauro.actors.telegram._stats import (
    StatsRecorder,
    TelegramStatistics,
    percentiles,
    statistics_lines,
)


def test_percentiles() -> None:
    assert percentiles(deque()) == (0.0, 0.0)
    assert percentiles(deque([3.0, 1.0, 2.0])) == (2.0, 3.0)
    assert percentiles(deque(float(i) for i in range(101))) == (50.0, 99.0)


def test_recorder_keeps_recent_samples() -> None:
    recorder = StatsRecorder()
    for i in range(1500):
        recorder.timing(float(i), None)
    recorder.count("answered")
    assert len(recorder.first_visible) == 1000
    assert recorder.outcomes["answered"] == 1


def test_lines_for_admins() -> None:
    stats = TelegramStatistics(
        bot_username="b", updates=3, outcomes={"answered": 2, "command": 1}, chats_in_flight=1,
        queued=0, unsettled=0, held=2, api_calls=9, api_retries=1, api_floods=0,
        markdown_fallbacks=2, api_failures=0, first_visible=(0.5, 1.0), complete=(1.0, 2.0),
    )  # fmt: skip
    text = "\n".join(statistics_lines(stats))
    assert "@b, 3 updates (answered 2, command 1)" in text
    assert "held (memory cannot record): 2" in text
    assert "9 calls, 1 retries" in text
    assert "2 formatting refused" in text
