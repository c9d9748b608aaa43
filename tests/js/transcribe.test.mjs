// Amazon Transcribe streaming's own protocol: @aws-sdk/client-transcribe-streaming with
// @aws-sdk/middleware-websocket's WebSocket handler streams speech into a livelens VOICE contact (its
// ContactId as the SessionId) and reads TranscriptEvents back. tests/e2e/test_transcribe_protocol.py makes
// the contact and the speech (16 kHz mono PCM) and passes their ids and path.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { StartStreamTranscriptionCommand, TranscribeStreamingClient } from "@aws-sdk/client-transcribe-streaming";
import { WebSocketFetchHandler } from "@aws-sdk/middleware-websocket";
import { WebSocket } from "ws";

import { credentials, failure, region, url } from "./common.mjs";

globalThis.WebSocket ??= WebSocket; // Node 20 has no global WebSocket; the handler uses the browser API

/** The SDK always connects with wss:; the server under test speaks plain HTTP (production sits behind TLS). */
class LocalWebSocketHandler extends WebSocketFetchHandler {
  async handle(request) {
    if (url.startsWith("http:") && request.protocol === "wss:") request.protocol = "ws:";
    return super.handle(request);
  }
}

const client = new TranscribeStreamingClient({
  endpoint: url, region, credentials, maxAttempts: 1,
  requestHandler: new LocalWebSocketHandler({ connectionTimeout: 30000 }),
});
// The SDK moves the connection to Transcribe's port, 8443, of the endpoint's host (and signs that host); the
// server under test listens on a port of its own, so its port is put back (docs/voice.md: serve on 8443).
client.middlewareStack.addRelativeTo((next) => (args) => {
  const { request } = args;
  request.hostname = request.hostname.replace(/:8443$/, "");
  request.headers.host = `${request.hostname}:${request.port}`;
  return next(args);
}, { name: "livelensPortMiddleware", relation: "after", toMiddleware: "websocketPortMiddleware" });
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** AudioEvents of 100 ms at twice real speed; then, like a call that goes on, silence until `done`. */
async function* audio(pcm, done) {
  const chunk = 3200;
  for (let at = 0; at < pcm.length; at += chunk) {
    yield { AudioEvent: { AudioChunk: pcm.subarray(at, at + chunk) } };
    await pause(50);
  }
  const deadline = Date.now() + 90000;
  while (!done() && Date.now() < deadline) {
    yield { AudioEvent: { AudioChunk: new Uint8Array(chunk) } };
    await pause(100);
  }
}

test("StartStreamTranscription over the SDK's WebSocket handler: final transcripts of a livelens contact", async () => {
  const pcm = readFileSync(process.env.LIVELENS_TRANSCRIBE_PCM);
  const expected = Number(process.env.LIVELENS_TRANSCRIBE_UTTERANCES);
  const finals = [];
  const response = await client.send(new StartStreamTranscriptionCommand({
    LanguageCode: "en-US", MediaEncoding: "pcm", MediaSampleRateHertz: 16000,
    SessionId: process.env.LIVELENS_TRANSCRIBE_CONTACT_ID,
    AudioStream: audio(pcm, () => finals.length >= expected),
  }));
  assert.equal(response.SessionId, process.env.LIVELENS_TRANSCRIBE_CONTACT_ID);
  for await (const event of response.TranscriptResultStream) {
    assert.ok(event.TranscriptEvent, `unexpected event ${JSON.stringify(event)}`);
    for (const result of event.TranscriptEvent.Transcript.Results) {
      if (!result.IsPartial) finals.push(result);
    }
  }
  assert.equal(finals.length, expected);
  const text = finals.map((result) => result.Alternatives[0].Transcript).join(" ").toLowerCase();
  assert.match(text, /internet/);
  assert.match(text, /\[pii\]/, "the phone number is redacted before it is answered");
  assert.doesNotMatch(text, /four one five|415/);
  for (const result of finals) {
    assert.equal(result.ChannelId, "ch_0");
    assert.ok(result.StartTime < result.EndTime);
    assert.match(result.ResultId, /^[0-9a-f-]{36}$/);
  }
  process.stdout.write(`FINALS ${JSON.stringify(finals.map((result) => result.ResultId))}\n`);
});

test("Transcribe's errors arrive as the SDK's typed exceptions", async () => {
  const error = await failure((async () => {
    const german = await client.send(new StartStreamTranscriptionCommand({
      LanguageCode: "de-DE", MediaEncoding: "pcm", MediaSampleRateHertz: 16000,
      SessionId: process.env.LIVELENS_TRANSCRIBE_CONTACT_ID,
      AudioStream: audio(new Uint8Array(3200), () => true),
    }));
    for await (const event of german.TranscriptResultStream) assert.fail(`unexpected ${JSON.stringify(event)}`);
  })());
  assert.equal(error.name, "BadRequestException");
  assert.match(error.message, /language-code/);
});
