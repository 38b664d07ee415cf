#!/usr/bin/env python3
"""Deterministic generator of the golden .eml corpus for the support desk.

Usage: python3 tests/corpus/gen/gen.py [OUTDIR]   (default: tests/corpus)

The committed .eml files are the fixtures; this script only documents how they were
made and can regenerate them byte for byte (no clock, fixed seeds). It removes stale
*.eml in OUTDIR first.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mime import serialise  # noqa: E402
import kinds_a  # noqa: E402
import kinds_b  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(here)
    messages = kinds_a.build() + kinds_b.build()
    names = set()
    for old in os.listdir(outdir):
        if old.endswith(".eml"):
            os.remove(os.path.join(outdir, old))
    counters = {}
    for i, m in enumerate(messages):
        kind = m["kind"]
        counters[kind] = counters.get(kind, 0) + 1
        name = f"{kind}-{counters[kind]:03d}-{m['slug']}.eml"
        assert name not in names, name
        names.add(name)
        # Mix line endings the way real stores do: every third message uses CRLF.
        crlf = m.get("crlf", i % 3 == 1)
        with open(os.path.join(outdir, name), "wb") as f:
            # A "raw" message is written as it is: its point is its exact bytes.
            f.write(m["raw"] if "raw" in m else serialise(m["headers"], m["body"], crlf))
    print(f"wrote {len(messages)} messages to {outdir}")


if __name__ == "__main__":
    main()
