"""TauroBot's settings: one typed, frozen object built from config.yml, .env and
the environment (the environment wins), validated before anything starts.

Every setting is declared once, on its field in ``_settings.py`` (``setting(...)``
from ``_fields.py``), with its default, its environment name, its ``config.yml``
path, its type, bounds and unit, and its documentation; ``_table.py`` collects
them into ``SETTINGS``, and ``docs/configuration.md`` is generated from that table.
"""

from tauro.config._docs import render_markdown as render_markdown
from tauro.config._load import LoadedSettings as LoadedSettings
from tauro.config._load import load_settings as load_settings
from tauro.config._settings import DEFAULT_SYSTEM_PROMPT as DEFAULT_SYSTEM_PROMPT
from tauro.config._settings import AccessSettings as AccessSettings
from tauro.config._settings import LanguageSettings as LanguageSettings
from tauro.config._settings import LLMSettings as LLMSettings
from tauro.config._settings import LoggingSettings as LoggingSettings
from tauro.config._settings import MemorySettings as MemorySettings
from tauro.config._settings import RuntimeSettings as RuntimeSettings
from tauro.config._settings import Settings as Settings
from tauro.config._settings import TelegramSettings as TelegramSettings
from tauro.config._settings import VoiceSettings as VoiceSettings
from tauro.config._settings import WebSettings as WebSettings
from tauro.config._table import SETTINGS as SETTINGS
from tauro.config._table import SettingDef as SettingDef
