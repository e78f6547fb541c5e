"""How the async twins reach the synchronous runtime: one worker thread per call.

This is the mechanism ``pm.open_async`` uses too; the one place to switch when
the integration moves onto the asynchronous runtime.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

T = TypeVar("T")


async def in_worker(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function(*args, **kwargs)`` in a worker thread; the event loop keeps running."""
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


__all__ = ["in_worker"]
