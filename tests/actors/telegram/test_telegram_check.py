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
