"""Entry point of the frozen application: the same ``main`` as ``python -m dmtl_studio``.

PyInstaller runs this file as ``__main__`` both for the application and for every worker process it spawns
(DataLoader workers under the spawn start method, the default on Windows and macOS). ``main`` calls
``multiprocessing.freeze_support()`` before anything else, which turns such a worker into a worker and never
lets it reach the window.
"""

import sys

from dmtl_studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
