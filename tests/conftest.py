import pathlib
import sys

# Make tests/parity.py importable as `parity` from every test module.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
