"""Analysis workers: claim contacts with pending items, analyse them in batches, commit fenced.

* :mod:`livelens.worker.loop` - one worker: the claim → analyse → commit loop and its heartbeat.
* :mod:`livelens.worker.notify` - wake-ups: a notifier the server calls per accepted item, a waker
  each worker sleeps on (plus polling, so a write from anywhere is picked up).
* :mod:`livelens.worker.supervisor` - the worker processes ``livelens serve`` starts and restarts.
* :mod:`livelens.worker.stats` - counters and latency histograms a worker reports in its heartbeat.
"""
