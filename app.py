"""wav2tok web app, the Hugging Face Spaces entry point: ``python app.py`` (``--help`` for options); the same as
``wav2tok app``. The logic lives in ``wav2tok_hf.app``."""

import os
import sys

try:
    from wav2tok_hf.app.ui import main
except ImportError:  # a Space runs this file from a plain checkout: use the package in src/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
    from wav2tok_hf.app.ui import main

if __name__ == "__main__":
    sys.exit(main())
