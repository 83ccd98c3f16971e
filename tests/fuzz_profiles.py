"""Hypothesis profiles of tests/test_fuzz.py, chosen by the ROOTCAST_FUZZ environment variable.

- `rootcast-quick` (default, `make test`): a small derandomised subset, repeatable in CI.
- `rootcast-fuzz` (ROOTCAST_FUZZ=1, `make fuzz`): 1,000 random cases per fuzzed input kind.

Registered here, not in conftest.py, and loaded by test_fuzz.py when it is imported.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# conftest's autouse MLflow fixture is function-scoped; the fuzzed functions never use it
_COMMON = {
    "deadline": None,
    "database": None,  # nothing written into the work tree
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
QUICK_EXAMPLES = 40
FUZZ_EXAMPLES = 1000

settings.register_profile(
    "rootcast-quick", max_examples=QUICK_EXAMPLES, derandomize=True, **_COMMON
)
settings.register_profile("rootcast-fuzz", max_examples=FUZZ_EXAMPLES, **_COMMON)


def load() -> str:
    """Load the profile ROOTCAST_FUZZ asks for; returns its name."""
    name = "rootcast-fuzz" if os.environ.get("ROOTCAST_FUZZ", "") not in ("", "0") else None
    name = name or "rootcast-quick"
    settings.load_profile(name)
    return name
