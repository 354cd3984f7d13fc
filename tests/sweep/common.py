"""What the sweep tests share: a small, fast zoo family and its targets."""

from __future__ import annotations

#: Six small zoo models (each builds in tens of milliseconds).
SMALL = "ds_cnn,fc_autoencoder,mobilenet_v1_vww,resnet8,squeezenet1_0,squeezenet1_1"
OPTIONS = {"models": SMALL}
#: The three Edge TPU classes of the Google study, and two devices of other kinds.
EDGETPUS = ["edgetpu_v1", "edgetpu_v2", "edgetpu_v3"]
TARGETS = ["coral_usb", "ncs2", "dpu_b4096+zcu104"]
