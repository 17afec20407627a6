"""The model's CommonMark, parsed once the same way for every channel.

Models answer in CommonMark (bold, headings, lists, fenced code, tables). Both
channels read it with one markdown-it-py parser configured here (CommonMark plus
tables and strikethrough, raw HTML *off*: whatever HTML the model writes is
text): ``tauro.actors.telegram`` turns the tree into Telegram's HTML parse mode,
``render_html`` turns it into the web app's sanitised HTML. A stream's text so
far is often half a construct; ``close_dangling`` closes an emphasis or inline
code left open, so every intermediate rendering looks like the final one will.

This package sits beside ``tauro.config`` at the bottom of the layering: pure
functions, no actors, no I/O.
"""

from tauro.markdown._parser import close_dangling as close_dangling
from tauro.markdown._parser import parse_tree as parse_tree
from tauro.markdown._parser import safe_link as safe_link
from tauro.markdown._web import render_html as render_html

__all__ = ["close_dangling", "parse_tree", "render_html", "safe_link"]
