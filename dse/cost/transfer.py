"""Time to move a tensor over a link."""

from __future__ import annotations

from dse.spec.platform import LinkSpec

__all__ = ["transfer_time"]


def transfer_time(nbytes: float, link: LinkSpec, *, sharers: int = 1) -> float:
    """Seconds to move ``nbytes`` over ``link``: latency plus bytes at the sustained bandwidth.

    Args:
        nbytes: Payload bytes (0 costs nothing, not even the latency).
        link: The link.
        sharers: Transfers running at once on a shared link; each gets an equal share of the
            bandwidth (the simulator models sharing that changes during a transfer).

    Raises:
        ValueError: Negative bytes or fewer than one sharer.
    """
    if nbytes < 0 or sharers < 1:
        raise ValueError(f"need nbytes >= 0 and sharers >= 1, got {nbytes}, {sharers}")
    if nbytes == 0:
        return 0.0
    return link.latency_s + nbytes * sharers / link.bandwidth_bytes_s
