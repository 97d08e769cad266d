"""The analyzer's prefetch: tests written against every surviving mutant of `bench/mutation.py -p analysis --all` (docs/testing.md); each names its survivor."""

from __future__ import annotations
