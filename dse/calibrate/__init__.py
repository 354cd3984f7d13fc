"""Calibration: measurements in, fitted device overlays and honest errors out."""

from dse.calibrate.fit import DEFAULT_FREE, Calibration, calibrate, cross_validate, predict
from dse.calibrate.measurements import MeasurementError, read_measurements, validate

__all__ = ["DEFAULT_FREE", "Calibration", "MeasurementError", "calibrate", "cross_validate",
           "predict", "read_measurements", "validate"]
