"""Small helpers for reporting errors raised inside the runtime's task groups."""

from __future__ import annotations


def single_cause(error: BaseException) -> BaseException:
    """The one error inside nested single-member exception groups, else ``error``.

    Trio's nurseries wrap what their tasks raise in exception groups; an actor's
    failure is reported, logged and escalated as the error the actor raised.
    """
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
