import dataclasses

from tauro.actors.telegram import check_telegram
from tauro.config import TelegramSettings
from tauro.testing import open_botapi_emulator


async def test_check_reaches_get_me() -> None:
    async with open_botapi_emulator() as emu:
        settings = TelegramSettings(token=emu.token, api_base_url=emu.base_url)
        found = await check_telegram(settings)
        assert found.ok
        assert found.username == "tauro_test_bot"
        assert found.lines()[0].startswith("ok")
        assert emu.calls_of("getUpdates") == []  # never steals a running bot's updates
        wrong = await check_telegram(dataclasses.replace(settings, token="1:WRONGWRONGWRONG"))
        assert not wrong.ok
        assert "TELEGRAM_BOT_TOKEN" in wrong.lines()[0]
        assert "WRONGWRONG" not in wrong.lines()[0]


async def test_check_without_token() -> None:
    found = await check_telegram(TelegramSettings(token=""))
    assert not found.ok
    assert "TELEGRAM_BOT_TOKEN is not set" in found.lines()[0]


async def test_check_unreachable_server() -> None:
    settings = TelegramSettings(token="1:ABCDEFGHIJ", api_base_url="http://127.0.0.1:9/bot",
                                request_timeout=1.0)  # fmt: skip
    found = await check_telegram(settings)
    assert not found.ok
    assert found.lines()[0].startswith("FAIL")


async def test_check_shows_the_webhook_and_warns_when_polling_is_configured() -> None:
    async with open_botapi_emulator() as emu:
        settings = TelegramSettings(token=emu.token, api_base_url=emu.base_url)
        assert (await check_telegram(settings)).lines()[1] == (
            "ok   Telegram webhook: none set (long polling)"
        )
        emu.set_webhook(f"http://127.0.0.1:9/hook/{emu.token}", secret_token="hidden-secret")
        emu.push_message(42, "waiting")
        await emu.wait_for(lambda: len(emu.webhook_posts) >= 1)  # refused: nobody listens
        found = await check_telegram(settings)
        assert found.ok
        warning = found.lines()[1]
        assert warning.startswith("WARN")
        assert "TELEGRAM_WEBHOOK_URL is empty" in warning
        assert "1 update(s) pending" in warning
        assert "last error" in warning
        assert "Connection refused" in warning
        assert emu.token not in warning
        assert "/hook/" in warning
        assert "hidden-secret" not in warning
        configured = dataclasses.replace(settings, webhook_url="https://example.org/hook")
        assert (await check_telegram(configured)).lines()[1].startswith("ok   Telegram webhook")
        assert emu.calls_of("setWebhook") == emu.calls_of("deleteWebhook") == []
