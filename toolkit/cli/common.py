"""What every ``edge-*`` command shares: one-line errors instead of tracebacks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from toolkit.errors import Multi3EdgeError

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def run_cli(prog: str, body: Callable[[], int]) -> int:
    """Run ``body`` and turn errors into one line on stderr with a non-zero exit code.

    A :class:`Multi3EdgeError` (bad input or option) exits 2 with its message. Anything else is a
    bug: one line saying so, exit 3; set ``MULTI3EDGE_DEBUG=1`` to see the traceback.
    """
    try:
        return body()
    except Multi3EdgeError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence of a command-line tool
        if os.environ.get("MULTI3EDGE_DEBUG"):
            raise
        print(
            f"{prog}: internal error: {type(e).__name__}: {e} (set MULTI3EDGE_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
