"""Live progress of a sweep: runs done / running / queued, and each running run's
epoch n of N with its ETA, read from the last epoch line of the run's log.

On a terminal a tqdm display (one bar for the sweep, one per running run); in a
log (stdout not a terminal) a few plain lines every `every` seconds.
"""
import os
import re
import sys
import threading
import time

from tqdm import tqdm

# The trainer's epoch line: "epoch 3/20  loss ... 41.2s  eta 11m40s" (helmholtz/run/training.py).
EPOCH_LINE = re.compile(rb"^epoch (\d+)/(\d+)\b(?:.*\beta (\S+))?", re.M)
TTY_REFRESH = 2.0  # seconds between redraws of the terminal display


def duration(seconds):
    """42s, 3m05s, 1h02m: short enough for a status line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def last_epoch(log):
    """(epoch, of, eta or None) of the last epoch line in the log's last 64 kB, or None."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64 * 1024))
            text = f.read()
    except OSError:
        return None
    found = list(EPOCH_LINE.finditer(text))
    if not found:
        return None
    n, of, eta = found[-1].groups()
    return int(n), int(of), eta.decode(errors="replace") if eta else None


def status(log):
    """"epoch 3/20, eta 11m40s" (as of its last epoch), or "starting" before the first."""
    epoch = last_epoch(log)
    if epoch is None:
        return "starting"
    n, of, eta = epoch
    return f"epoch {n}/{of}" + (f", eta {eta}" if eta else "")


class Board:
    """What a sweep shows while its runs go: started and finished are called by the
    scheduler's threads, tick by the sweep's main thread between its waits (a thread
    of its own would be one more parent whose exit signals the runs: PR_SET_PDEATHSIG)."""

    def __init__(self, n, write, every=60.0, tty=None):
        self.n, self.write, self.every = n, write, every
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.done, self.running, self.lock = 0, {}, threading.Lock()
        self.bars, self.last = {}, time.monotonic()
        self.total = tqdm(total=n, unit="run", desc="runs", dynamic_ncols=True) if self.tty else None

    @property
    def interval(self):
        """Seconds the sweep may wait before the next tick."""
        return TTY_REFRESH if self.tty else self.every

    def started(self, run):
        with self.lock:
            self.running.setdefault(run, time.monotonic())

    def finished(self, run):
        with self.lock:
            self.running.pop(run, None)
            self.done += 1
        if self.tty:
            self._draw()

    def summary(self):
        with self.lock:
            done, running = self.done, len(self.running)
        return f"{done}/{self.n} done, {running} running, {self.n - done - running} queued"

    def lines(self):
        """The plain lines of one report: the counts, then one line per running run."""
        with self.lock:
            running = list(self.running)
        return [f"progress {time.strftime('%H:%M:%S')}: {self.summary()}",
                *(f"  running  {r.name}: {status(r.log)}" for r in running)]

    def tick(self):
        """Redraw the display, or print the lines when `every` seconds have passed."""
        if self.tty:
            self._draw()
        elif time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            for line in self.lines():
                self.write(line)

    def _draw(self):
        with self.lock:
            running, done = list(self.running), self.done
            for run in [r for r in self.bars if r not in self.running]:
                self.bars.pop(run).close()
            self.total.n = done
            self.total.set_postfix_str(f"{len(running)} running, {self.n - done - len(running)} queued",
                                       refresh=False)
            self.total.refresh()
            for run in running:
                epoch = last_epoch(run.log)
                bar = self.bars.get(run)
                if bar is None:
                    bar = self.bars[run] = tqdm(total=epoch[1] if epoch else None, unit="epoch",
                                                desc=run.name, leave=False, dynamic_ncols=True,
                                                bar_format="{desc}: epoch {n}/{total} {bar}{postfix}")
                if epoch:
                    bar.total, bar.n = epoch[1], epoch[0]
                    bar.set_postfix_str(f"eta {epoch[2]}" if epoch[2] else "", refresh=False)
                bar.refresh()

    def close(self):
        if self.tty:
            with self.lock:
                for bar in self.bars.values():
                    bar.close()
                self.total.n = self.done
                self.total.close()
