"""`python -m scylla` is the `scylla` command."""
import sys

from .cli import main

sys.exit(main())
