"""Zoo model builders, one module per family; importing a module registers its models."""

import importlib

_MODULES = (
    "classic",
    "inception",
    "resnet",
    "mobilenet",
    "efficientnet",
    "ssd",
    "tiny",
    "bert",
)

for _module in _MODULES:
    importlib.import_module(f"{__name__}.{_module}")
