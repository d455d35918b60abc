import os
import pathlib
import sys

from hypothesis import settings

# Make tests/parity.py importable as `parity` from every test module.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# CI runs the same hypothesis examples every time (a red CI is then reproducible); local runs explore.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
