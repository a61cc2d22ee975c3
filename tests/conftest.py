"""Test-wide settings: no test touches the user's real drain-ls state."""

from __future__ import annotations

import os
import tempfile

# Servers and CLI processes started by the tests inherit this unless a test sets its own.
os.environ["DRAIN_LS_HOME"] = tempfile.mkdtemp(prefix="drain-ls-tests-")
