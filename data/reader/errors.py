"""The reader's error: one message for the user, and every problem found (row, column, why)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One finding. ``row`` is the line in the file (header = 1)."""

    row: int | None
    column: str | None
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column:
            where.append(f"列「{self.column}」")
        return ("，".join(where) + "：" if where else "") + self.message


class InputError(ValueError):
    """The input cannot be used. ``problems`` lists every issue found (row, column, why)."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line (never empty)."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__
