"""Links and platforms: how devices are connected and what they share.

A :class:`LinkSpec` is an interconnect type (USB 2.0, USB 3.0, a USB 3.0 hub, PCIe lanes, an SoC
bus) with its sustained bandwidth and latency. A :class:`PlatformSpec` is a host (CPU clusters)
plus accelerators with counts, each attached to a link, plus shared resources: a link marked
``shared`` is one instance for everything attached to it (four sticks on one hub share it), and
``dram_bw_bytes_s`` caps the total memory traffic of the components of one SoC.

Names inside a platform (devices, links) are checked against the catalog when the platform is
loaded through it (:func:`dse.devices.platform`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    StrictBool,
    model_validator,
)

from dse.spec.sources import Frozen, Source, Sourced
from dse.spec.units import Bandwidth, Power, Seconds

__all__ = ["AcceleratorGroup", "LinkSpec", "PlatformSpec"]

_NAME = r"^[a-z0-9][a-z0-9_.\-]*$"


class LinkSpec(Sourced):
    """One interconnect type.

    Attributes:
        bandwidth_bytes_s: Sustained payload bandwidth (not the signalling rate).
        latency_s: Fixed cost of one transfer (a USB round trip, a PCIe doorbell).
        shared: One instance shared by every device attached to it (a hub, a bus); otherwise
            every attached device gets a link of its own (a root port each).
        shared_memory: Devices on this link work out of the platform's DRAM (an SoC bus, the
            Zynq AXI ports), so their memory traffic counts against its ``dram_bw_bytes_s``.
    """

    NOT_NUMBERS: ClassVar[frozenset[str]] = frozenset({"name", "description", "shared",
                                                       "shared_memory", "sources", "notes"})

    name: str = Field(min_length=1, pattern=_NAME)
    description: str = ""
    bandwidth_bytes_s: Bandwidth = Field(gt=0)
    latency_s: Seconds = Field(default=0.0, ge=0)
    shared: StrictBool = False
    shared_memory: StrictBool = False
    sources: tuple[Source, ...] = Field(min_length=1)
    notes: str = ""



#: Most accelerators of one kind on one platform (a bound on every count a user gives).
MAX_DEVICES = 64


class AcceleratorGroup(Frozen):
    """``count`` identical accelerators, attached to ``link`` (default: the device's own)."""

    count: NonNegativeInt = Field(default=1, le=MAX_DEVICES)
    link: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _count_only(cls, data: Any) -> Any:
        return {"count": data} if isinstance(data, int) and not isinstance(data, bool) else data


class PlatformSpec(Sourced):
    """A host plus accelerators plus what they share.

    Attributes:
        host: CPU-cluster devices of the host and how many of each (usually 1 per cluster).
        accelerators: Accelerator device name -> count (or ``{count, link}``).
        dram_bw_bytes_s: Ceiling on the summed memory traffic of the SoC's components
            (``None``: no shared ceiling beyond each device's own bandwidth).
        board_idle_w: Power of the board itself beyond its devices' idle power (regulators,
            USB controller, DRAM refresh).
        price_usd: Price of the board (accelerators are priced by their device specs).
    """

    NOT_NUMBERS: ClassVar[frozenset[str]] = frozenset({"name", "description", "host",
                                                       "accelerators", "sources", "notes"})

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.+\-]*$")  # + for composed
    description: str = ""
    host: dict[str, PositiveInt] = Field(min_length=1)
    accelerators: dict[str, AcceleratorGroup] = Field(default_factory=dict)
    dram_bw_bytes_s: Bandwidth | None = Field(default=None, gt=0)
    board_idle_w: Power = Field(default=0.0, ge=0)
    price_usd: NonNegativeFloat | None = None
    sources: tuple[Source, ...] = ()
    notes: str = ""

