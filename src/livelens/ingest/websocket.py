"""The participant websocket that Amazon Connect chat clients read their chat from.

CreateParticipantConnection with ``Type=["WEBSOCKET", ...]`` answers a URL on
this server; a chat client (amazon-connect-chatjs, or anything speaking the
same protocol) connects, subscribes to ``aws/chat`` and then receives every new
item as Amazon Connect sends them, in order and each once:
``{"topic": "aws/chat", "contentType": "application/json", "content": "<Item JSON>"}``
— messages (``MESSAGE``), participant and chat events and typing (``EVENT``),
attachments (``ATTACHMENT``, each with its ``ContentType``) and read/delivered
receipts (``MESSAGEMETADATA``). Items are read from storage, so a client sees
what any node accepted. ``aws/heartbeat`` is echoed and ``aws/ping`` (chatjs's
deep heartbeat) is answered with ``statusCode`` 200. The socket closes after
the chat has ended and its last item was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from livelens.contacts.models import Contact, Participant
from livelens.contacts.service import ATTACHMENT, EVENT, MESSAGE, RECEIPT, SIGNAL, ContactCenter
from livelens.contacts.tokens import CONNECTION
from livelens.errors import LivelensError
from livelens.ingest.sessions import Session, SocketSessions
from livelens.ingest.transcript import transcript_item
from livelens.ingest.wakeups import ItemWakeups

PATH = "/livelens/v1/participant/websocket"
POLL_SECONDS = 0.1
PUSHED = (MESSAGE, EVENT, ATTACHMENT, SIGNAL, RECEIPT)
POLICY_VIOLATION = 1008
NORMAL_CLOSURE = 1000


def websocket_url(base_url: str, connection_token: str) -> str:
    """The URL CreateParticipantConnection hands out, on ``base_url`` (the public URL, else the request's).

    amazon-connect-chatjs accepts only ``wss://`` URLs and ``ws://127.0.0.1:``; a plain-HTTP base on
    ``localhost`` (the usual ``--endpoint-url http://localhost:PORT``) is therefore given as 127.0.0.1,
    which is the same server.
    """
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    netloc = parts.netloc
    if scheme == "ws" and parts.hostname == "localhost":
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
    prefix = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{prefix}{PATH}?token={connection_token}"


def pushed_item(contact: Contact, item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as Amazon Connect pushes it on the websocket (an ``Item`` of connectparticipant)."""
    if item["kind"] == SIGNAL:
        return transcript_item(contact, {**item, "kind": EVENT})
    if item["kind"] == RECEIPT:
        return {
            "AbsoluteTime": item["time"],
            "Id": item["id"],
            "Type": "MESSAGEMETADATA",
            "ContactId": contact.id,
            "MessageMetadata": {"MessageId": item["message_id"], "Receipts": [item["receipt"]]},
        }
    return transcript_item(contact, item)


def control_answer(message: Any) -> dict[str, Any] | None:
    """The answer to a control frame a chat client sends (heartbeats); ``None`` for anything else."""
    topic = message.get("topic") if isinstance(message, dict) else None
    if topic == "aws/heartbeat":
        return {"topic": "aws/heartbeat"}
    if topic == "aws/ping":
        return {"topic": "aws/ping", "statusCode": 200}
    return None


class ParticipantWebsocket:
    def __init__(self, center: ContactCenter, sessions: SocketSessions | None = None,
                 wakeups: ItemWakeups | None = None) -> None:
        self.center = center
        self.sessions = sessions or SocketSessions()
        self.wakeups = wakeups  # new items wake the socket at once; it polls every POLL_SECONDS anyway

    def _open(self, token: str) -> tuple[Participant, Contact]:
        with self.center.storage.read() as tx:
            return self.center.authenticate(tx, CONNECTION, token)

    def _new_items(self, contact_id: str, after: int) -> tuple[Contact, list[dict[str, Any]]]:
        with self.center.storage.read() as tx:
            record = tx.get_contact(contact_id)
            contact = Contact.from_record(record) if record else None
            items = tx.list_items(contact_id, after=after, limit=100, kinds=PUSHED)
        assert contact is not None
        return contact, items

    async def handle(self, websocket: WebSocket) -> None:
        try:
            participant, contact = await run_in_threadpool(self._open, websocket.query_params.get("token", ""))
        except LivelensError:
            await websocket.close(code=POLICY_VIOLATION)
            return
        await websocket.accept()
        with self.sessions.open(participant.id) as session:
            await self._serve(websocket, contact, session)

    async def _serve(self, websocket: WebSocket, contact: Contact, session: Session) -> None:
        subscribed = asyncio.Event()
        pusher = asyncio.create_task(self._push(websocket, contact, subscribed, session))
        revoked = asyncio.create_task(session.closed.wait())
        try:
            while not pusher.done() and not session.revoked:
                receive = asyncio.create_task(websocket.receive_text())
                await asyncio.wait({receive, pusher, revoked}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    receive.cancel()
                    break
                await self._answer(websocket, receive.result(), subscribed)
            if session.revoked:
                await self._close_revoked(websocket, pusher)
        except WebSocketDisconnect:
            pass
        finally:
            pusher.cancel()
            revoked.cancel()

    @staticmethod
    async def _close_revoked(websocket: WebSocket, pusher: asyncio.Task[None]) -> None:
        """The participant disconnected (or its tokens were revoked): stop pushing and close now."""
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=NORMAL_CLOSURE)

    @staticmethod
    async def _answer(websocket: WebSocket, text: str, subscribed: asyncio.Event) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        topic = message.get("topic") if isinstance(message, dict) else None
        if topic == "aws/subscribe":
            await websocket.send_text(json.dumps(
                {"topic": "aws/subscribe", "content": {"status": "success", "topics": ["aws/chat"]}}
            ))
            subscribed.set()
        else:
            answer = control_answer(message)
            if answer is not None:
                await websocket.send_text(json.dumps(answer))

    async def _push(
        self, websocket: WebSocket, contact: Contact, subscribed: asyncio.Event, session: Session
    ) -> None:
        """Send every item appended after the connection opened; close once the chat has ended."""
        after = contact.last_item_seq
        await subscribed.wait()
        woken = self.wakeups.watch(contact.id) if self.wakeups is not None else None
        try:
            await self._push_items(websocket, contact, after, session, woken)
        finally:
            if woken is not None and self.wakeups is not None:
                self.wakeups.unwatch(contact.id, woken)

    async def _push_items(self, websocket: WebSocket, contact: Contact, after: int, session: Session,
                          woken: asyncio.Event | None) -> None:
        while True:
            if woken is not None:
                woken.clear()
            contact, items = await run_in_threadpool(self._new_items, contact.id, after)
            for item in items:
                if session.revoked:
                    return
                await websocket.send_text(json.dumps({
                    "topic": "aws/chat",
                    "contentType": "application/json",
                    "content": json.dumps(pushed_item(contact, item)),
                }))
                after = item["seq"]
            if contact.ended and not items:
                await websocket.close()
                return
            if items:
                continue  # a full page: read on at once
            if woken is None:
                await asyncio.sleep(POLL_SECONDS)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), POLL_SECONDS)
