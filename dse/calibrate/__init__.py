"""Calibration: measurements in, fitted device overlays and honest errors out."""

from dse.calibrate.fit import Calibration, calibrate, cross_validate
from dse.calibrate.forward import predict
from dse.calibrate.measurements import MeasurementError, read_measurements, validate
from dse.calibrate.params import DEFAULT_FREE

__all__ = ["DEFAULT_FREE", "Calibration", "MeasurementError", "calibrate", "cross_validate",
           "predict", "read_measurements", "validate"]
