"""One registry for every extension point: device kinds, policies, frontends, runtimes, and more.

A :class:`Registry` maps names to plug-ins. It accepts an instance wherever it accepts a name (as
Optuna does), refuses a second plug-in under a taken name unless asked to replace it, and loads,
on first use and before any lookup or listing, first its built-ins and then the plug-ins other
distributions declare under its entry-point group::

    [project.entry-points."dse.policies"]
    round_robin = "my_package.policies:RoundRobin"

The entry point names the plug-in (an instance; for most registries a class is called without
arguments), registered under its ``name`` attribute, else under the entry point's name. An entry point that fails to load is logged and skipped: a broken third-party
package never stops dse. This module imports nothing from dse but :mod:`dse.errors`, so that
every layer can use it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar, overload

from dse.errors import DseError, did_you_mean

__all__ = ["ENTRY_POINT_GROUPS", "PluginNotFoundError", "Registry"]

logger = logging.getLogger(__name__)

#: The entry-point groups dse reads, one per extension point.
ENTRY_POINT_GROUPS = ("dse.kinds", "dse.policies", "dse.frontends", "dse.runtimes", "dse.loaders",
                      "dse.samplers", "dse.zoo", "dse.ops")

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class PluginNotFoundError(DseError, KeyError):
    """No plug-in of this name is registered.

    A :class:`KeyError` as well, so that ``except KeyError`` around a lookup keeps working.

    Attributes:
        name: The name asked for.
        group: The registry's entry-point group (``dse.policies``).
        known: The registered names, sorted.
    """

    def __init__(self, name: object, group: str, known: Iterable[str], *,
                 what: str = "plug-in") -> None:
        self.name = name
        self.group = group
        self.known = sorted({str(k) for k in known})
        self.message = did_you_mean(name, self.known, what=what)
        super().__init__(self.message)

    def __str__(self) -> str:
        # KeyError would print the repr of its argument, quotes and escapes included.
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_not_found, (self.name, self.group, self.known, self.message))


def _rebuild_not_found(name: object, group: str, known: list[str],
                       message: str) -> PluginNotFoundError:
    error = PluginNotFoundError.__new__(PluginNotFoundError)
    error.name, error.group, error.known, error.message = name, group, known, message
    DseError.__init__(error, message)
    return error


class Registry(Generic[T]):
    """Named plug-ins of one kind, in registration order.

    Args:
        group: The entry-point group read on first use (``dse.policies``).
        builtins: What registers the built-in plug-ins: a function, a module path imported
            lazily, or ``None`` when they are registered where the registry is defined.
        what: The plug-in kind as messages name it (``policy`` in "unknown policy 'x'").
        name_of: The name of a plug-in registered without one (default: its ``name``
            attribute).
        instantiate: Whether an entry point naming a class registers an instance of it (called
            without arguments) rather than the class (false for registries of factories).
    """

    def __init__(self, group: str, *, builtins: Callable[[], None] | str | None = None,
                 what: str = "plug-in",
                 name_of: Callable[[T], str] | None = None, instantiate: bool = True) -> None:
        self.group = group
        self.what = what
        self._builtins = builtins
        self._name_of = name_of
        self._instantiate = instantiate
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Registry({self.group!r})"

    # ----- registration ----------------------------------------------------------------------

    @overload
    def register(self, obj: T, name: str | None = None, *, replace: bool = False,
                 first: bool = False) -> T: ...

    @overload
    def register(self, obj: None = None, name: str | None = None, *, replace: bool = False,
                 first: bool = False) -> Callable[[T], T]: ...

    def register(self, obj: T | None = None, name: str | None = None, *, replace: bool = False,
                 first: bool = False) -> T | Callable[[T], T]:
        """Add a plug-in; returns it, so it can be used as a decorator (``@reg.register()``,
        ``@reg.register(name="x")``).

        Args:
            obj: The plug-in.
            name: Its name (default: its ``name`` attribute).
            replace: Redefine a registered name instead of refusing it.
            first: Put it ahead of the others (for registries whose order matters).

        Raises:
            ValueError: The name is taken and ``replace`` is false.
        """
        if obj is None:
            def decorator(plugin: T) -> T:
                return self.register(plugin, name, replace=replace, first=first)
            return decorator
        key = name if name is not None else self._name(obj)
        with self._lock:
            if key in self._items and not replace:
                raise ValueError(f"{self.what} {key!r} is already registered in {self.group}")
            if first:
                self._items.pop(key, None)
                self._items = {key: obj, **self._items}
            else:
                self._items[key] = obj
        return obj

    def unregister(self, name: str) -> T:
        """Remove a plug-in and return it.

        Raises:
            PluginNotFoundError: No plug-in of that name.
        """
        self._ensure_loaded()
        with self._lock:
            if name not in self._items:
                raise self._not_found(name)
            return self._items.pop(name)

    # ----- lookup ----------------------------------------------------------------------------

    def get(self, name: str | T) -> T:
        """The plug-in of this name; an instance is returned as it is.

        Raises:
            PluginNotFoundError: Unknown name; the message has the closest and the known names.
        """
        if not isinstance(name, str):
            return name
        if not self._loaded:
            self._ensure_loaded()
        try:
            return self._items[name]
        except KeyError:
            raise self._not_found(name) from None

    def names(self) -> list[str]:
        """The registered names, in order."""
        self._ensure_loaded()
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        """``(name, plug-in)`` pairs, in order."""
        self._ensure_loaded()
        return list(self._items.items())

    def values(self) -> list[T]:
        """The plug-ins, in order."""
        self._ensure_loaded()
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._items)

    # ----- loading ---------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            # A built-in module that looks a plug-in up while it is being imported must not
            # start the loading again (the lock is re-entrant).
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                if callable(self._builtins):
                    self._builtins()
                elif isinstance(self._builtins, str):
                    importlib.import_module(self._builtins)
                self._load_entry_points()
                self._loaded = True
            finally:
                self._loading = False

    def _load_entry_points(self) -> None:
        try:
            found = importlib.metadata.entry_points(group=self.group)
        except Exception:  # broken metadata of some installed distribution
            logger.warning("cannot read the entry points of %s", self.group, exc_info=True)
            return
        for entry in found:
            try:
                obj = entry.load()
                if self._instantiate and isinstance(obj, type):
                    obj = obj()
                named = self._name_of is not None or isinstance(getattr(obj, "name", None), str)
                self.register(obj, None if named else entry.name)
            except Exception:  # a third-party plug-in must never crash dse
                logger.warning("skipping %s plug-in %r (%s): it failed to load", self.group,
                               entry.name, entry.value, exc_info=True)

    def _name(self, obj: T) -> str:
        if self._name_of is not None:
            return self._name_of(obj)
        name = getattr(obj, "name", None)
        if not isinstance(name, str):
            raise TypeError(f"a {self.what} needs a name: pass name= or give it a 'name' "
                            f"attribute (got {obj!r})")
        return name

    def _not_found(self, name: object) -> PluginNotFoundError:
        return PluginNotFoundError(name, self.group, self._items, what=self.what)
