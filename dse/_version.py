"""The version of dse (read by the package, the command and the sweep manifests)."""

__version__ = "0.1.0"
