"""Pool workers die with their batch, and never put a plate in place after it died.

A killed ``chipkit plates`` (``kill -9``, SIGTERM, a closed terminal) must not leave
worker processes behind that hold the unpickled signing key and keep renaming freshly
sealed plates into OUT. Workers are started by multiprocessing's forkserver, so their
parent is the forkserver, not the batch; three guards, each enough on its own for the
usual case:

* ``PR_SET_PDEATHSIG`` (Linux): the kernel sends SIGKILL to the worker when its parent,
  the forkserver, exits; the forkserver exits as soon as the batch's end of its
  ``alive`` pipe closes, i.e. when the batch dies;
* a :class:`Lifeline` thread in each worker waits on a pidfd of the batch process (a
  poll of the pid where pidfds are missing) and SIGKILLs the worker the moment the batch
  is gone;
* :meth:`Lifeline.check` right before each rename into OUT (PNG/SVG files, PDF parts).

What a worker still renamed in the microseconds between that check and the rename is
caught by the next run's recovery (see :mod:`chipkit.plates.recovery`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_S = 0.1  # fallback poll interval where pidfd_open is unavailable


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return False


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Lifeline:
    """Watches the batch process (``pid``) from a worker; the worker dies when it does."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        try:
            self.fd = os.pidfd_open(pid)
        except ProcessLookupError:
            _die()  # the batch is already gone
        except (AttributeError, OSError):  # pragma: no cover - old kernel / not Linux
            self.fd = None
        if not self.alive():
            _die()
        threading.Thread(target=self._watch, name="chipkit-lifeline", daemon=True).start()

    def alive(self) -> bool:
        if self.fd is not None:
            ready, _, _ = select.select([self.fd], [], [], 0)
            return not ready
        try:  # pragma: no cover - fallback without pidfds
            os.kill(self.pid, 0)
        except ProcessLookupError:  # pragma: no cover
            return False
        except PermissionError:  # pragma: no cover
            return True
        return True  # pragma: no cover

    def check(self) -> None:
        """Call right before putting a file in place: a dead batch's worker dies instead."""
        if not self.alive():
            _die()

    def _watch(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError, ValueError):
                select.select([self.fd], [], [])
        else:  # pragma: no cover - fallback without pidfds
            while self.alive():
                time.sleep(POLL_S)
        _die()


__all__ = ["Lifeline", "set_parent_death_signal"]
