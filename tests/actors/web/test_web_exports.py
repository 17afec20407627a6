"""The web package's public names: every one importable, each from where it is defined."""

from __future__ import annotations

import tauro.actors.web as web

PUBLIC = {
    "ActorBackend",
    "ActorStatus",
    "ChatBackend",
    "Delta",
    "Done",
    "Failed",
    "GetWebAddress",
    "Health",
    "HistoryEntry",
    "LatencySummary",
    "LoginThrottle",
    "MetricsHistory",
    "MinuteSample",
    "OpenStreams",
    "Rendered",
    "PWA_ROOT",
    "RevokedSessions",
    "SESSION_COOKIE",
    "StaticFiles",
    "StatusReport",
    "TurnEvents",
    "TurnRunner",
    "VoiceClip",
    "VoiceClips",
    "WebhookEndpoint",
    "VoiceReady",
    "WEB_ACTOR",
    "WebActor",
    "WebAuth",
    "WebCounters",
    "WebMessage",
    "WebSink",
    "WebState",
    "build_app",
    "load_or_create_token",
    "serve_app",
    "web_actor_spec",
}


def test_public_names() -> None:
    exported = {name for name in vars(web) if not name.startswith("_")}
    exported -= {"annotations", "testing"}  # the __future__ flag; the test kit submodule
    assert exported == PUBLIC


def test_private_modules_hold_the_implementation() -> None:
    for name in PUBLIC - {"Health", "PWA_ROOT", "SESSION_COOKIE", "WEB_ACTOR", "WebMessage"}:
        module = getattr(getattr(web, name), "__module__", "")
        assert module.startswith("tauro.actors.web._"), name


def test_the_pwa_ships_inside_the_package() -> None:
    assert (web.PWA_ROOT / "index.html").is_file()
    assert web.PWA_ROOT.parent.name == "tauro"
