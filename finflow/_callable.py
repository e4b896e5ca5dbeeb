"""Public API functions that share their name with a submodule (``finflow.trace``,
``finflow.sql``, ``finflow.ingest``, ...).

Importing a submodule binds it as an attribute of the package, which would shadow the lazily
bound API function of the same name depending on import order. Each such submodule therefore
forwards calls to its function, so ``finflow.trace(...)`` works whatever was imported first.
"""
from __future__ import annotations

import sys
import types

__all__ = ["make_module_callable"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return getattr(self, self.__api_function__)(*args, **kwargs)


def make_module_callable(module_name: str, function_name: str) -> None:
    """Make ``sys.modules[module_name](...)`` call its ``function_name``."""
    module = sys.modules[module_name]
    module.__api_function__ = function_name
    module.__class__ = _CallableModule
