"""``python -m qaas_excel`` and the ``qaas-excel`` command.

Nothing heavy is imported before ``main`` runs, so Ctrl-C at any moment, even while Python is still loading the
program, ends with one line and exit code 130, never a traceback.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from qaas_excel.interrupt import EXIT_INTERRUPTED, abandoned

    code: int | str | None
    try:
        from qaas_excel.cli import main as run

        run()
        code = 0
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        code = EXIT_INTERRUPTED
    except SystemExit as exc:
        code = exc.code
    if abandoned():  # a second Ctrl-C gave up on requests in flight: do not wait for their threads
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else EXIT_INTERRUPTED)
    sys.exit(code)


if __name__ == "__main__":
    main()
