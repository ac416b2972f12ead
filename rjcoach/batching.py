"""Micro-batching for many concurrent sessions: one batched forward pass instead of many single ones.

Threads that call ``analyze`` at about the same time are served together by ``analyze_many``:
the first caller waits at most ``window_ms`` for others to join, then one worker runs the batch.
With one user it costs at most the window; with many it turns contention into throughput.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future

from rjcoach.analysis import Analysis


class BatchingAnalyzer:
    def __init__(self, inner, window_ms: float = 4.0, max_batch: int = 32) -> None:
        self.inner = inner
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self._pending: list[tuple[str, str | None, Future]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._worker = threading.Thread(target=self._run, name="rjcoach-batcher", daemon=True)
        self._worker.start()

    def analyze(self, text: str, context: str | None = None) -> Analysis:
        from rjcoach.analysis import check_context, check_text

        check_text(text)  # bad input fails in the caller's thread, with the usual errors
        check_context(context)
        fut: Future = Future()
        with self._lock:
            self._pending.append((text, context, fut))
            self._wake.notify()
        return fut.result()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._wake.wait()
                # Give concurrent callers a moment to join the batch.
                self._wake.wait(timeout=self.window)
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                results = self.inner.analyze_many([t for t, _, _ in batch], [c for _, c, _ in batch],
                                                  batch_size=self.max_batch)
                for (_, _, fut), res in zip(batch, results):
                    fut.set_result(res)
            except Exception as exc:  # hand the error to every waiting caller
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
