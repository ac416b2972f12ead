"""Micro-batching for many concurrent sessions: one batched forward pass instead of many single ones.

Threads that ask at about the same time are served together: the first caller waits at most
``window_ms`` for others to join, then a worker thread runs the whole batch (a batcher may have
several workers, so a new batch can start while another computes). With one user it costs at most
the window; with many it turns contention into throughput.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Callable, Generic, Sequence, TypeVar

from rjcoach import embeddings
from rjcoach.analysis import Analysis, check_context, check_text

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    """Calls ``run_many(items) -> results`` (same order) for requests that arrive together."""

    def __init__(self, run_many: Callable[[list[In]], Sequence[Out]], window_ms: float = 4.0,
                 max_batch: int = 32, name: str = "rjcoach-batcher", workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.run_many = run_many
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self._pending: list[tuple[In, Future]] = []
        self._wake = threading.Condition(threading.Lock())
        for k in range(workers):  # more than one: a batch can start while another is computing
            threading.Thread(target=self._run, name=f"{name}-{k}", daemon=True).start()

    def submit(self, item: In) -> Future:
        """Queue ``item`` and return at once; the future holds its result when its batch is done."""
        fut: Future = Future()
        with self._wake:
            self._pending.append((item, fut))
            self._wake.notify()
        return fut

    def __call__(self, item: In) -> Out:
        return self.submit(item).result()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                self._wake.wait(timeout=self.window)  # let concurrent callers join
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            if not batch:  # another worker took them
                continue
            try:
                results = self.run_many([item for item, _ in batch])
                for (_, fut), res in zip(batch, results):
                    fut.set_result(res)
            except Exception as exc:  # every waiting caller gets the error
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)


def analyser_batching() -> tuple[int, float]:
    """(batch workers, batching window in ms) for the analyser, by the encoders' number format.

    Measured on this project's machine (docs/load.md, 10 sessions sending without pause, 8 runs of
    80 turns per setting). float32: two workers, so one batch's parse and rules (which hold the
    interpreter lock) overlap another batch's forward pass: p95 142 ms against 175 with one worker.
    bfloat16 halves the forward pass, and two workers then mostly wait on each other for the lock:
    one worker with a 2 ms window uses 9-12 ms of CPU per turn against 12-15, batches 4.7 messages
    against 2.9, and gave median p95s of 106, 135 and 123 ms where two workers with a 4 ms window
    gave 122-131, 147 and 139 ms in the same series."""
    from rjcoach.precision import precision

    return (1, 2.0) if precision() == "bfloat16" else (2, 4.0)


class BatchingAnalyzer:
    """The analyser behind a micro-batcher; bad input still fails in the caller's own thread."""

    def __init__(self, inner, window_ms: float | None = None, max_batch: int = 32, workers: int | None = None) -> None:
        default_workers, default_window = analyser_batching()
        workers = default_workers if workers is None else workers
        window_ms = default_window if window_ms is None else window_ms
        self.workers, self.window_ms = workers, window_ms
        self.inner = inner
        self._batch = MicroBatcher(self._run_many, window_ms, max_batch, "rjcoach-analyse", workers)
        self.max_batch = max_batch

    def _run_many(self, items):
        texts = [t for t, _ in items]
        results = self.inner.analyze_many(texts, [c for _, c in items], batch_size=self.max_batch)
        try:  # every message is then matched by meaning: finish its embedding in the same batch
            embeddings.embed_ahead(texts)
        except Exception:  # the analysis stands; embed_one computes (or reports) it in the turn
            log.exception("embedding a batch of %d analysed messages ahead failed", len(texts))
        return results

    def analyze(self, text: str, context: str | None = None) -> Analysis:
        check_text(text)
        check_context(context)
        return self._batch((text, context))

    def keep_contexts(self, contexts) -> int:
        """Read lines ahead in the caller's thread (a session start; see Analyzer.keep_contexts)."""
        return self.inner.keep_contexts(contexts)
