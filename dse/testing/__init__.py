"""Conformance suites a plug-in's tests inherit (as Optuna's ``BasicSamplerTestCase``).

Each suite is a class of pytest tests without the ``Test`` prefix (so pytest does not collect it
on its own); subclass it in a test module, under a ``Test...`` name, and set the attributes it
names. The built-ins inherit the same suites: device kinds
(:class:`dse.testing.kinds.DeviceKindConformance`, ``tests/devices/test_kind_conformance.py``),
policies (:class:`dse.testing.policies.PolicyConformance`,
``tests/sim/test_policy_conformance.py``) and calibration loaders
(:class:`dse.testing.loaders.LoaderConformance`, ``tests/calibrate/test_loader_conformance.py``).
"""
