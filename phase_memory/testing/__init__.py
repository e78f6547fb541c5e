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
