"""TauroBot speaks its users' language: gettext catalogs, one domain (``tauro``).

At the bottom layer with config, logs and errors: it imports nothing of
TauroBot. Operators' texts (logs, ``tauro check``, ``--help``) stay English;
everything a chat user reads goes through here::

    t("it", "Voice answers off.")                       # now, for a known reader
    nt("it", "{count} message", "{count} messages", 2)  # plural forms
    error = LLMError("...", user_message=lazy("the model '{model}' is missing", model=m))
    translate(error.user_message, "de")                 # later, at the channel's edge

Message ids read as English, and English needs no catalog. The sources are
``tauro/locale/<lang>/LC_MESSAGES/tauro.po``, extracted and updated with
``scripts/i18n`` (Babel); they are compiled at first use. ``resolve`` and
``negotiate`` turn a Telegram language tag or an ``Accept-Language`` header
into a catalog language, ``catalog_json`` is what the web app loads.
"""

from tauro.i18n._catalogs import DOMAIN as DOMAIN
from tauro.i18n._catalogs import LOCALE_DIR as LOCALE_DIR
from tauro.i18n._catalogs import SOURCE_LANGUAGE as SOURCE_LANGUAGE
from tauro.i18n._catalogs import languages as languages
from tauro.i18n._catalogs import po_path as po_path
from tauro.i18n._catalogs import translations as translations
from tauro.i18n._export import LANGUAGE_NAMES as LANGUAGE_NAMES
from tauro.i18n._export import catalog_json as catalog_json
from tauro.i18n._negotiate import is_language_tag as is_language_tag
from tauro.i18n._negotiate import negotiate as negotiate
from tauro.i18n._negotiate import resolve as resolve
from tauro.i18n._negotiate import supported as supported
from tauro.i18n._text import N_ as N_
from tauro.i18n._text import LazyText as LazyText
from tauro.i18n._text import lazy as lazy
from tauro.i18n._text import nt as nt
from tauro.i18n._text import t as t
from tauro.i18n._text import translate as translate
