"""The device-kind registry, as the spec layer sees it.

A device's ``kind`` names a registered kind; validating a spec asks the kind to derive values
(:meth:`~dse.devices.kinds.BaseDeviceKind.derive`) and to check its own fields
(:meth:`~dse.devices.kinds.BaseDeviceKind.check`). The registry lives here, at the bottom, so
that validation needs nothing above the spec layer; the kinds themselves (the built-ins in
:mod:`dse.devices.kinds`, others from the ``dse.kinds`` entry-point group) are plug-ins, loaded
before the first lookup like every other plug-in (:class:`dse.plugins.Registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dse.plugins import Registry

if TYPE_CHECKING:
    from dse.spec.device import DeviceSpec

__all__ = ["KINDS", "SpecKind", "kind_names", "spec_kind"]


class SpecKind(Protocol):
    """What validation asks of a kind (the whole protocol is
    :class:`dse.devices.kinds.BaseDeviceKind`)."""

    @property
    def name(self) -> str: ...

    def derive(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]: ...

    def check(self, spec: DeviceSpec) -> list[str]: ...


#: The device kinds, by name: the built-ins of :mod:`dse.devices.kinds` (loaded before the first
#: lookup) and those of the ``dse.kinds`` entry-point group.
KINDS: Registry[Any] = Registry("dse.kinds", builtins="dse.devices.kinds", what="device kind")


def spec_kind(name: str) -> SpecKind:
    """The registered kind of this name, for validation.

    Raises:
        PluginNotFoundError: Unknown kind (a ``KeyError``); the message lists the known ones.
    """
    kind: SpecKind = KINDS.get(name)
    return kind


def kind_names() -> list[str]:
    """Names of the registered kinds, in registration order."""
    return KINDS.names()
