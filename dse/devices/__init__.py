"""Device and platform models: the kind registry, the catalog, and fitted overlays."""

from dse.devices.catalog import Catalog, default_catalog
from dse.devices.kinds import BaseDeviceKind, DeviceKind, device_kind, kind_names, register_kind
from dse.devices.runtimes import BaseRuntime, register_runtime

__all__ = ["BaseDeviceKind", "BaseRuntime", "Catalog", "DeviceKind", "default_catalog",
           "device_kind", "kind_names", "register_kind", "register_runtime"]
