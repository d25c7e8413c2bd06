"""``python -m butler_ls``: the same as the ``butler-ls`` executable."""

import sys

from .cli import main

sys.exit(main())
