"""``python -m bnviz``: the same as the bnviz command."""
import sys

from .app import main

sys.exit(main())
