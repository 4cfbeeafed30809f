"""``python -m srcstacks``."""

from srcstacks.cli import main

main()
