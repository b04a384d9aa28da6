"""`python -m bench [area ...]`: run every benchmark area (each `bench/<area>/__main__.py`) in turn."""

from __future__ import annotations

import pathlib
import subprocess
import sys


def main(argv: list[str]) -> int:
    here = pathlib.Path(__file__).parent
    areas = argv or sorted(p.parent.name for p in here.glob("*/__main__.py"))
    failed = 0
    for area in areas:
        print(f"== bench.{area}", flush=True)
        failed |= subprocess.call([sys.executable, "-m", f"bench.{area}"]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
