"""TauroBot: a self-hosted AI companion on Telegram, built as supervised actors on trio.

Layering — who may import whom (lower layers never import higher ones)::

    tauro.cli, tauro.app            the command line; builds the system from settings
        │
    tauro.actors.telegram           channels: Telegram and the web app (serving tauro/pwa)
    tauro.actors.web
        │
    tauro.conversation              the one conversation turn every channel uses
        │
    tauro.actors.memory             the actors the turn talks to, each owning one
    tauro.actors.llm                outside system (disk, LLM server, speech engine);
    tauro.actors.voice              they never import each other or the channels
        │
    tauro.runtime                   actors, supervisors, mailboxes; knows nothing of Telegram
        │
    tauro.config, tauro.logs,       settings, structured logging with redaction,
    tauro.files, tauro.errors,      private folders and files (0700/0600), the one error tree,
    tauro.markdown                  the model's Markdown parsed (one parser for both
                                    channels; pure functions)
        │
    tauro.i18n                      the users' languages: gettext catalogs (tauro/locale)

``tauro.testing`` (Bot API and LLM server emulators) and ``tauro.runtime.testing``
(probe and fault-injecting actors) are for tests and may import anything.
"""

__version__ = "4.0.0.dev0"
