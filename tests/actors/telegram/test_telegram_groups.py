import pytest

from tauro.actors.telegram._groups import single_exception, unwrapped_errors


def test_single_exception_is_taken_out_of_nested_groups() -> None:
    error = KeyError("x")
    group = ExceptionGroup("outer", [ExceptionGroup("inner", [error])])
    assert single_exception(group) is error


def test_several_exceptions_stay_a_group() -> None:
    group = ExceptionGroup("two", [KeyError("a"), ValueError("b")])
    assert single_exception(group) is group


def test_unwrapped_errors() -> None:
    with pytest.raises(KeyError), unwrapped_errors():
        raise ExceptionGroup("one", [KeyError("a")])
