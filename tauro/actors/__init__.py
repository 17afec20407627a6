"""The actors of TauroBot, one subpackage each, built on ``tauro.runtime``.

Each subpackage owns one job and its own message protocol (frozen dataclasses in
its ``_messages.py``); actors talk to each other only through those messages.
"""
