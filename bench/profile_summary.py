"""Print the top frames of one or more ``py-spy record --format raw`` profiles (collapsed stacks).

``self``: samples whose innermost frame is that function; ``total``: samples with the function
anywhere on the stack (counted once per sample). With ``--us-per-route`` (the process's CPU µs
per route from the bench) each share is also shown as µs per route, since py-spy without
``--idle`` only keeps samples of a thread that was running.

Run: ``.venv/bin/python bench/profile_summary.py PROFILE.txt [...] [--top 25] [--us-per-route 600]``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def load(paths: list[Path]) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def short(frame: str) -> str:
    """``name (path/to/site-packages/pkg/mod.py)`` -> ``name (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/src/", "lib/python3."):
        if marker in where:
            where = where.split(marker, 1)[1]
            if marker == "lib/python3.":
                where = "stdlib:" + where.split("/", 1)[-1]
            break
    return f"{name} ({where})" if where else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--us-per-route", type=float, default=None)
    args = parser.parse_args()
    stacks = load(args.profiles)
    total = sum(stacks.values()) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = [short(f) for f in stack]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def show(title: str, counter: Counter[str]) -> None:
        print(f"{title} ({total} samples)")
        for frame, count in counter.most_common(args.top):
            share = count / total
            cost = f" {share * args.us_per_route:6.0f} us/route" if args.us_per_route else ""
            print(f"  {share * 100:5.1f}%{cost}  {frame}")

    show("self", own)
    show("total", inclusive)


if __name__ == "__main__":
    main()
