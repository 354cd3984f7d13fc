"""Metrics: from simulation records to throughput, latency, utilization, energy (pure)."""

from dse.metrics.summary import Metrics, summarize

__all__ = ["Metrics", "summarize"]
