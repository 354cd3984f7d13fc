"""Shared conformance tests for dse's plug-ins: a plug-in's test module subclasses the suite of
its kind (as Optuna's ``BasicSamplerTestCase``) and inherits every test."""
