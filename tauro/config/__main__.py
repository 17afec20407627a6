"""``python -m tauro.config`` prints docs/configuration.md."""

from tauro.config._docs import render_markdown

print(render_markdown(), end="")
