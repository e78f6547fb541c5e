"""``python -m benchmarks.worker MODULE:FUNCTION JSON``: one side of a workload, alone.

Used where a side must run in its own process: peak RSS (``ru_maxrss``) of an
import or export, and the concurrent writer and readers. Prints the
function's result as one JSON line, with ``max_rss_mb`` added.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys


def main(argv: list[str]) -> int:
    target, arguments = argv[0], json.loads(argv[1])
    module_name, function_name = target.split(":")
    module = importlib.import_module(f"benchmarks.workloads.{module_name}")
    result = dict(getattr(module, function_name)(**arguments))
    # ru_maxrss is in kilobytes on Linux.
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
