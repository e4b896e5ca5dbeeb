"""Exception hierarchy. Every user-facing failure is a FinflowError with one clear line."""
from __future__ import annotations

__all__ = ["FinflowError", "InputError", "ConfigError", "BudgetExceeded", "DatasetError"]


class FinflowError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits 1."""


class InputError(FinflowError):
    """Bad input data, located by file, 1-based data row number and column."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, value: object = None):
        self.file, self.row, self.column, self.value = file, row, column, value
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        tail = f" (value {value!r})" if value is not None else ""
        super().__init__(f"{prefix}: {message}{tail}" if prefix else f"{message}{tail}")


class ConfigError(FinflowError):
    """Invalid configuration value or file."""


class DatasetError(FinflowError):
    """A dataset directory is missing, incomplete or of an unknown schema version."""


class BudgetExceeded(FinflowError):
    """Raised only when a caller asks for strict budgets; detectors normally report cuts."""
