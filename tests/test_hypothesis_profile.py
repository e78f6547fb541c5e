"""CI runs property tests derandomized: the same examples on every run (``--stress`` explores)."""

from __future__ import annotations

import pytest
from hypothesis import settings


def test_property_tests_are_derandomized_unless_stressed(pytestconfig: pytest.Config) -> None:
    if pytestconfig.getoption("--stress"):
        assert settings.default.derandomize is False
        assert settings.get_profile("stress").max_examples >= 500
    else:
        assert settings.default.derandomize is True
        assert settings.default.database is None
    assert settings.default.deadline is None
    assert settings.default.print_blob is True
