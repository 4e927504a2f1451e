"""The stitcher tests exercise this checkout's example plugin (``examples/ptychostitch-median``).

The plugin is installed (``pip install -e ./examples/ptychostitch-median``) and found through
its entry point; putting this checkout's copy first on ``sys.path`` makes that entry point load
the code beside these tests, whichever checkout the installed copy came from.
"""

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ptychostitch-median"
sys.path.insert(0, str(EXAMPLE))
