"""Fixtures for the search tests: a real, throwaway PostgreSQL server (tests/search/postgres.py).

The fixture is imported rather than listed in ``pytest_plugins``: pytest refuses
``pytest_plugins`` in a conftest below the rootdir when the whole suite is collected.
"""

from tests.search.postgres import postgres_url

__all__ = ["postgres_url"]
