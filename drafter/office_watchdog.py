"""Run by :func:`drafter.pdf.start_office`, never imported: LibreOffice that dies with drafter.

``python office_watchdog.py PROGRAM ARGS…`` starts the program as its child, in its own process
group (drafter starts this script in a new session), and watches two things: the child, and its
standard input, the read end of a pipe whose write end only drafter holds. When drafter ends,
however it ends (SIGKILL and the kernel's OOM killer included), the kernel closes that end; the
watchdog reads end-of-file and kills its whole process group: LibreOffice's launcher,
``soffice.bin`` (which the launcher forks, so the launcher's own death would not reach it) and
itself. When the child ends first, the watchdog ends the same way: with its exit status, or
killed by the same signal, so drafter sees what LibreOffice did; what the child left running in
the group is stopped first.

Only the standard library; the same on Linux and macOS.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys


def main() -> int:
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)  # SIGCHLD wakes the select below
    signal.signal(signal.SIGCHLD, lambda number, frame: None)
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
    while child.poll() is None:
        ready, _, _ = select.select([sys.stdin.fileno(), wake_read], [], [])
        if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 4096):
            os.killpg(0, signal.SIGKILL)  # drafter has ended: the whole group goes
        if wake_read in ready:
            os.read(wake_read, 4096)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)  # anything the child left behind in the group
    if child.returncode < 0:  # killed by a signal: end the same way, for drafter to see
        number = -child.returncode
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those have no handler to reset
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
