"""Test-wide settings: no test touches the user's real drain-ls state."""

from __future__ import annotations

import os
import tempfile

from hypothesis import settings

# Servers and CLI processes started by the tests inherit this unless a test sets its own.
os.environ["DRAIN_LS_HOME"] = tempfile.mkdtemp(prefix="drain-ls-tests-")
# `drain-ls check`'s results cache is off, so that a test that changes how a file is checked
# (a patched function) never gets an earlier test's findings back; tests/test_check_cache.py
# turns it on.
os.environ.setdefault("DRAIN_LS_NO_CACHE", "1")

# Hypothesis draws the same examples at every run ("ci", the default): a red run is a bug in
# the code, never a draw that only this run made. To look for new examples, run with
# ``HYPOTHESIS_PROFILE=explore`` (a new draw each run; a failure prints how to reproduce it)
# or the fuzzers in benchmarks/.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
