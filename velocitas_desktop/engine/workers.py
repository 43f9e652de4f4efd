"""Worker processes: each owns one shard of strategies for its whole life (sticky shards).

The consumer sends a worker one message per batch and reads one answer, so the cost of IPC is
paid per batch, never per tick. A worker that dies is noticed by its closed pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from velocitas_desktop.engine.shard import CoinPrices, Shard

_CONTEXT = mp.get_context("spawn")  # never fork a process that runs threads (Qt, uvicorn)


class WorkerDied(RuntimeError):
    """The worker process exited; its strategies must be re-created elsewhere."""


def _read_into(conn: Connection, inbox: queue.SimpleQueue) -> None:
    """Read messages as soon as they arrive, so the parent's send never waits for us to
    finish a batch (it may be sending batch k while we send the answer to batch k−1)."""
    while True:
        try:
            inbox.put(conn.recv())
        except (EOFError, OSError):
            inbox.put(("stop",))
            return


def worker_main(conn: Connection) -> None:
    # Ctrl-C goes to the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    shard = Shard()
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_into, args=(conn, inbox), daemon=True).start()
    try:
        _serve(conn, inbox, shard)
    except (BrokenPipeError, ConnectionResetError, OSError):
        return  # the parent is gone: nothing left to answer


def _serve(conn: Connection, inbox: queue.SimpleQueue, shard: Shard) -> None:
    while True:
        message = inbox.get()
        kind = message[0]
        if kind == "batch":
            conn.send(shard.process(message[1]))
        elif kind == "add":
            try:
                shard.add(message[1], message[2], message[3])
                conn.send(None)
            except Exception as exc:
                conn.send(f"{type(exc).__name__}: {exc}")
        elif kind == "remove":
            shard.remove(message[1])
            conn.send(None)
        elif kind == "stop":
            conn.close()
            return


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.conn, child = _CONTEXT.Pipe(duplex=True)
        self.process = _CONTEXT.Process(target=worker_main, args=(child,),
                                        name=f"velocitas-worker-{index}", daemon=True)
        self.process.start()
        child.close()
        self.strategy_ids: set[str] = set()
        self.coins: set[str] = set()

    def call(self, *message: Any) -> Any:
        self.send(*message)
        return self.receive()

    def send(self, *message: Any) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(self.describe_exit()) from exc

    def receive(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(self.describe_exit()) from exc

    def send_batch(self, coins: CoinPrices) -> None:
        self.send("batch", coins)

    def describe_exit(self) -> str:
        self.process.join(0.5)
        code = self.process.exitcode
        if code is None:
            return f"worker {self.index} stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker {self.index} (pid {self.process.pid}) was killed by {name}"
        return f"worker {self.index} (pid {self.process.pid}) exited with code {code}"

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the worker to exit; kill it if it has not within ``timeout``. Never blocks
        longer: answers nobody will read are drained first, so the worker is not stuck
        sending one while we send it the stop."""
        with contextlib.suppress(OSError, EOFError):
            while self.conn.poll(0):
                self.conn.recv()
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(("stop",))
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.conn.close()
