"""``python -m butler_ls``: the same as the ``butler-ls`` executable."""

import sys

from butler_ls.cli import main

sys.exit(main())
