"""The conformance suite every adapter must pass.

Usage from an adapter's own test package (``conftest.py``)::

    import pytest
    from phase_memory.testing.fixtures import StoreFactory

    pytest_plugins = ["phase_memory.testing.fixtures"]

    @pytest.fixture(params=[StoreFactory("mine", lambda tmp: MyStore(tmp / "db"))],
                    ids=lambda f: f.name)
    def store_factory(request):
        return request.param

and a test module that re-exports the spec modules::

    from phase_memory.testing.spec_graph import *  # noqa: F403

Each ``spec_*`` module holds plain pytest test functions that take the
``store`` (a :class:`~phase_memory.protocols.MemoryStore`) or ``mem`` (a
:class:`~phase_memory.PhaseMemoryRuntime` over that store) fixture.
Capability flags on the factory skip tests of optional abilities.
"""

try:  # pragma: no cover - only without pytest installed
    import pytest as _pytest
except ImportError:  # builders stay importable without pytest
    pass
else:
    # The spec modules are plain test modules living in a package: ask pytest to
    # rewrite their asserts so failures show the compared values.
    # Every module of this package is covered, so new spec modules need no entry here.
    import pkgutil as _pkgutil

    _pytest.register_assert_rewrite(
        *(f"{__name__}.{module.name}" for module in _pkgutil.iter_modules(__path__))
    )
