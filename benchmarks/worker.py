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


def peak_rss_mb() -> float:
    """This program's own peak resident set, in MB.

    VmHWM first: ``ru_maxrss`` survives ``exec`` on Linux, so a worker forked
    from a large parent would report the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main(argv: list[str]) -> int:
    target, arguments = argv[0], json.loads(argv[1])
    module_name, function_name = target.split(":")
    module = importlib.import_module(f"benchmarks.workloads.{module_name}")
    result = dict(getattr(module, function_name)(**arguments))
    result["max_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
