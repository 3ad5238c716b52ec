"""Launch bnviz from a source checkout: ``python main.py``."""
import sys

from bnviz.app import main

if __name__ == "__main__":
    sys.exit(main())
