"""The console script: a Ctrl-C even while the modules load ends with exit code 130."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("nanaudit: interrupted\n")
        return 130
    return cli_main()
