"""Run every benchmark in turn and print its figures (each module has a main())."""

import importlib
import sys

MODULES = ["bench.bench_core", "bench.bench_match", "bench.bench_log", "bench.bench_log_latency", "bench.bench_slack"]


def main(argv: list[str]) -> int:
    chosen = [m for m in MODULES if not argv or any(a in m for a in argv)]
    for name in chosen:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"== {name}: not available ({exc})")
            continue
        print(f"== {name}")
        module.main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
