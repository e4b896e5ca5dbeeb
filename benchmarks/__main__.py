"""``python -m benchmarks``: finflow vs IBM GFP (snapml) and NetworkX; see harness.py."""
import sys

from benchmarks.harness import main

sys.exit(main())
