"""A voice contact's call recordings (voice/recording.py), listed and downloaded:

``GET /livelens/v1/instances/{InstanceId}/contacts/{ContactId}/recordings``
    ``{"Recordings": [{"RecordingId", "ContactId", "SampleRate", "Channels", "ChannelRoles",
    "RecordedRoles", "StartOffsetMillis", "PiiSilenced", "Status", "StartTimestamp", ...}]}``, one per
    audio socket, oldest first (``Status`` IN_PROGRESS while its socket is open, COMPLETED after).
``GET /livelens/v1/instances/{InstanceId}/contacts/{ContactId}/recordings/{RecordingId}``
    The recording as ``audio/wav`` (16-bit PCM, its rate and channels as received).

Authentication is SigV4, as for the segment stream: an ``Authorization`` header or a presigned query
string (botocore's ``SigV4QueryAuth``), service ``connect``; missing, forged or expired → 403. The
caller's policy must allow ``ListContactRecordings`` / ``GetContactRecording`` (reads) on the instance
(another key's instance → 403 ``AccessDeniedException``). An unknown instance, contact or recording (or
a recording of another contact) → 404 ``ResourceNotFoundException``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from livelens.api.auth import AuthError, SigV4Verifier
from livelens.api.authz import Authorizer
from livelens.api.serialize import error_body, error_status
from livelens.contacts.service import ContactCenter
from livelens.errors import LivelensError, ResourceNotFoundException
from livelens.voice.recording import RecordingStore

LIST_PATH = "/livelens/v1/instances/{InstanceId}/contacts/{ContactId}/recordings"
GET_PATH = LIST_PATH + "/{RecordingId}"


class RecordingEndpoint:
    def __init__(self, center: ContactCenter, store: RecordingStore, verifier: SigV4Verifier,
                 authorizer: Authorizer | None, base_url: Callable[[Request], str]) -> None:
        self.center = center
        self.store = store
        self.verifier = verifier
        self.authorizer = authorizer
        self.base_url = base_url

    def _check(self, request: Request, operation: str) -> None:
        caller = self.verifier.verify_connection(request, self.base_url(request))
        if self.authorizer is not None:
            self.authorizer.check(caller.access_key, caller.region, "livelens", operation,
                                  {"InstanceId": str(request.path_params["InstanceId"])})

    def _records(self, request: Request) -> list[dict[str, Any]]:
        instance_id, contact_id = str(request.path_params["InstanceId"]), str(request.path_params["ContactId"])
        self.center.describe_contact(instance_id, contact_id)  # 404 for an unknown instance or contact
        with self.center.storage.read() as tx:
            return tx.list_recordings(contact_id)

    def _list(self, request: Request) -> dict[str, Any]:
        self._check(request, "ListContactRecordings")
        return {"Recordings": self._records(request)}

    def _get(self, request: Request) -> bytes:
        self._check(request, "GetContactRecording")
        recording_id = str(request.path_params["RecordingId"])
        for record in self._records(request):
            if record["RecordingId"] == recording_id:
                return self.store.wav(self.center.storage, record)
        raise ResourceNotFoundException(f"Recording not found: {recording_id}")

    async def list(self, request: Request) -> Response:
        return await self._answer(lambda: JSONResponse(self._list(request)))

    async def get(self, request: Request) -> Response:
        return await self._answer(lambda: Response(self._get(request), media_type="audio/wav"))

    @staticmethod
    async def _answer(make: Callable[[], Response]) -> Response:
        request_id = str(uuid.uuid4())
        try:
            response = await run_in_threadpool(make)
        except AuthError as exc:
            code, status, message = exc.code, 403, exc.message
        except LivelensError as exc:
            code, status, message = exc.code, error_status(None, exc.code), exc.message
        else:
            response.headers["x-amzn-RequestId"] = request_id
            return response
        return Response(error_body(code, message), status, media_type="application/json",
                        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id})
