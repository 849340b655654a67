"""Hypothesis profiles for the bad-input campaigns.

``ci`` (the default when ``CI=true``) keeps the campaigns to a few seconds each; ``dev`` (the
default otherwise) runs a few hundred examples; ``full`` runs thousands and is for a deliberate
sweep: ``HYPOTHESIS_PROFILE=full scripts/test tests/campaigns``. The profile applies only to the
campaign tests (through :data:`CAMPAIGN`), never to hypothesis tests elsewhere in the suite.

The fault campaign (``fault_matrix.py``, ``test_fault_matrix.py``) reads the same profile name
through :func:`campaign_profile`: ``ci`` and ``dev`` run every cell of its matrix once, ``full``
three times (``fault_matrix.REPETITIONS``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The campaign tests take the function-scoped ``app_host`` and reuse it across examples on
# purpose: a rejected request changes no state, and each test asserts exactly that.
_SHARED = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("ci", _SHARED, max_examples=200)
settings.register_profile("dev", _SHARED, max_examples=500)
settings.register_profile("full", _SHARED, max_examples=5000)


def campaign_profile() -> str:
    """``HYPOTHESIS_PROFILE`` if set, else ``ci`` under CI, else ``dev``."""
    default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
    return os.environ.get("HYPOTHESIS_PROFILE", default)


CAMPAIGN = settings.get_profile(campaign_profile())
"""Apply with ``@CAMPAIGN`` above ``@given``."""
