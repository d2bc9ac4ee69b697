"""Test-wide settings: hypothesis runs derandomized (the same examples on every run and machine),
without an example database (nothing carried between runs), and without deadlines (timing on a
loaded 2-core machine must not decide a test).  ``HYPOTHESIS_PROFILE=explore`` draws fresh
random examples for a local bug hunt."""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
