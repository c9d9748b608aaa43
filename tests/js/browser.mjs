// The few browser globals amazon-connect-chatjs reads, so that it runs in Node with `ws` as WebSocket.
// Import this module before anything else; it loads the library and exports its global `connect`.
// Every aws/chat frame a socket receives is also recorded in `pushed` (to check order and uniqueness), and
// every successful aws/subscribe answer in `subscribed`: the socket delivers what is sent after that.
import { createRequire } from "node:module";
import WebSocket from "ws";

export const pushed = [];
/** The URL of every websocket chatjs opened. */
export const opened = [];
/** The URL of every websocket whose subscription to aws/chat succeeded. */
export const subscribed = [];

class RecordingWebSocket extends WebSocket {
  constructor(address, ...rest) {
    super(address, ...rest);
    opened.push(String(address));
    this.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.topic === "aws/chat") pushed.push(JSON.parse(frame.content));
      if (frame.topic === "aws/subscribe" && frame.content?.status === "success") subscribed.push(String(address));
    });
  }
}

globalThis.window = globalThis;
globalThis.self = globalThis;
globalThis.WebSocket = RecordingWebSocket;
if (!globalThis.navigator) {
  Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
}
if (!globalThis.navigator.userAgent) {
  Object.defineProperty(globalThis.navigator, "userAgent", { value: "Node.js (livelens e2e)", configurable: true });
}
Object.defineProperty(globalThis.navigator, "onLine", { value: true, configurable: true });
globalThis.location = new URL("http://127.0.0.1/");
globalThis.document = {
  visibilityState: "visible",
  referrer: "",
  location: globalThis.location,
  head: { appendChild() {} },
  createElement: () => ({ setAttribute() {}, appendChild() {} }),
  addEventListener() {},
  removeEventListener() {},
};
globalThis.addEventListener = () => {};
globalThis.removeEventListener = () => {};

createRequire(import.meta.url)("amazon-connect-chatjs");

export const chatjs = globalThis.connect;
