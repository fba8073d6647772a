"""SIGINT and SIGTERM during training: noted, so the loop stops after the current step and
writes a checkpoint, instead of dying mid-update with the work lost."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal, as shells do


class StopRequests:
    """Within the block, the first SIGINT or SIGTERM is recorded in :attr:`signum` and the
    run carries on to the end of its step; a second one acts as it would have without this
    block (Ctrl-C twice: KeyboardInterrupt now; SIGTERM twice: the process ends). Outside the
    main thread, where Python cannot take signals, the block does nothing."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # ignored stays ignored
                    self._previous[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            print(f"seqnets: {signal.Signals(signum).name} received: finishing this step, "
                  "then writing a checkpoint (send it again to stop at once)",
                  file=sys.stderr, flush=True)
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        self.__exit__()
        if callable(previous):
            previous(signum, frame)
        else:  # the default action: redeliver it with the old disposition
            os.kill(os.getpid(), signum)
