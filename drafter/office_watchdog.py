"""Run by :func:`drafter.pdf.start_office`, never imported: LibreOffice that dies with drafter.

``python office_watchdog.py PROGRAM ARGS…`` starts the program as its child, in a process
group of the child's own, and watches its standard input: the read end of a pipe whose write
end only drafter holds. When drafter ends, however it ends (SIGKILL and the kernel's OOM killer
included), the kernel closes that end; the watchdog reads end-of-file, kills the child's whole
group (LibreOffice's launcher and the ``soffice.bin`` it forks, which the launcher's own death
would not reach), reaps the child and ends. SIGTERM (drafter stopping a conversion: a timeout,
Ctrl-C) does the same. When the child ends first, the watchdog ends the same way: with its exit
status, or killed by the same signal, so that drafter sees what LibreOffice did.

Only the standard library; the same on Linux and macOS.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys


class _Stop(Exception):
    """Drafter has ended, or asks the watchdog to stop LibreOffice."""


def _stop(number: int, frame: object) -> None:
    raise _Stop


def main() -> int:
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)  # SIGCHLD wakes the select below
    signal.signal(signal.SIGCHLD, lambda number, frame: None)
    signal.signal(signal.SIGTERM, _stop)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # not while the child starts
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, process_group=0)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        while child.poll() is None:
            ready, _, _ = select.select([sys.stdin.fileno(), wake_read], [], [])
            if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 4096):
                raise _Stop  # drafter has ended
            if wake_read in ready:
                os.read(wake_read, 4096)
    except _Stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the child's group: everything it started
        child.wait()
        return 128 + signal.SIGKILL
    if child.returncode < 0:  # killed by a signal: end the same way, for drafter to see
        number = -child.returncode
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those have no handler to reset
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
