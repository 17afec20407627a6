"""Errors out of nurseries as themselves, not wrapped in exception groups.

trio wraps whatever leaves a nursery block in an ``ExceptionGroup``; the
bridge and the streaming reply open nurseries around their caller's code, so
without this a caller's ``except TelegramError`` would never match.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unwrapped_errors() -> Iterator[None]:
    """Re-raise a group holding exactly one exception as that exception."""
    try:
        yield
    except BaseExceptionGroup as group:
        raise single_exception(group) from None


def single_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside ``group`` (nested groups flattened), or the group."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            leaves.append(error)
    return leaves[0] if len(leaves) == 1 else group
