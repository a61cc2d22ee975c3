"""A small module for the VS Code end-to-end test: `os` is imported and never used."""

import os
import sys


def main() -> None:
    """Print the command line."""
    print(sys.argv)
