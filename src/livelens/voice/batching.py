"""Decoding the utterances of every stream together.

Each audio socket asks for its utterances one at a time from the decoding thread pool; a
:class:`BatchingRecognizer` queues those requests and each of its ``decoders`` threads (one core each:
``voice_decode_threads``) takes its share of those waiting (the waiting divided among the decoders, at
most ``max_batch``) into one batched decode (:meth:`WhisperRecognizer.transcribe_batch`). One core per
batch rather than one batch on every core: CTranslate2's threads of one call wait for each other between
layers, which cost more CPU than they saved on the shared 2-core machine measured (BENCHMARKS.md, issue
17). Under load the batch fills by itself (requests pile up while the previous batch decodes); a lone
request is decoded at once, without waiting for company.

Partials (re-decodes of an utterance still being spoken) are best effort: one asked for while the decoder
is busy is answered empty at once (the socket then sends none), so they never delay a final or add to
the load when the node is saturated.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from livelens.voice.audio import Samples
from livelens.voice.recognizer import Transcription, WhisperRecognizer


class BatchingRecognizer:
    """A :class:`~livelens.voice.recognizer.Recognizer` that batches concurrent calls of :meth:`transcribe`."""

    def __init__(self, recognizer: WhisperRecognizer, max_batch: int = 8, decoders: int = 1) -> None:
        self.recognizer = recognizer
        self.max_batch = max(1, max_batch)
        self._waiting: list[tuple[Samples, Future[Transcription]]] = []
        self._ready = threading.Condition()
        self._decoders = max(1, decoders)
        self._busy = 0  # decoders decoding a batch
        for index in range(self._decoders):
            threading.Thread(target=self._run, name=f"livelens-voice-batch-{index}", daemon=True).start()

    @property
    def name(self) -> str:
        return self.recognizer.name

    def transcribe(self, samples: Samples) -> Transcription:
        future: Future[Transcription] = Future()
        with self._ready:
            self._waiting.append((samples, future))
            self._ready.notify()
        return future.result()

    def transcribe_partial(self, samples: Samples) -> Transcription:
        with self._ready:
            if self._busy >= self._decoders or self._waiting:
                return Transcription("", ())
        return self.transcribe(samples)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
                # Its share of what is waiting: with the encoder window trimmed to the utterance a batch costs
                # about as much CPU as its utterances one by one, so a burst split across the decoders ends
                # sooner than one decoder's big batch (BENCHMARKS.md, issue 17, third pass).
                take = min(self.max_batch, -(-len(self._waiting) // self._decoders))
                batch, self._waiting = self._waiting[:take], self._waiting[take:]
                self._busy += 1
            try:
                if len(batch) == 1:
                    results = [self.recognizer.transcribe(batch[0][0])]
                else:
                    results = self.recognizer.transcribe_batch([samples for samples, _ in batch])
            except Exception as exc:  # every caller gets the error (a socket reports it and closes)
                for _, future in batch:
                    future.set_exception(exc)
                continue
            finally:
                with self._ready:
                    self._busy -= 1
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
