"""SQL syntax errors in words: line, column, the offending token and what is wrong (exit 2)."""

from __future__ import annotations

import pytest

from lakecrew.adapters.local.sql_translate import parse_query
from lakecrew.core.errors import UsageError


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a * FROM x", "line 1, column 15 near 'FROM': an expression is missing before"),
        ("SELECT (1 + 2 FROM x", "near 'FROM': a closing parenthesis is missing"),
        ("SELECT 1 FROM", "Expected table name but got the end of the query"),
        ("SELEC 1", "line 1, column 7 near '1': unexpected token"),
    ],
)
def test_syntax_errors_name_position_and_token(sql: str, expected: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_query(sql)
    message = err.value.one_line()
    assert expected in message and err.value.exit_code == 2
    assert "<class" not in message and "<Token" not in message  # no Python reprs
