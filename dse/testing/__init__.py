"""Test helpers a third party reuses: conformance suites for its plug-ins.

Each suite is a class of pytest tests without the ``Test`` prefix (so pytest does not collect it
on its own); subclass it in a test module, under a ``Test...`` name, and set the attributes it
names. The built-ins inherit the same suites (``tests/devices/test_kind_conformance.py``,
``tests/sim/test_policy_conformance.py``).
"""
