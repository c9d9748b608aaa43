// Shared by the JS end-to-end tests: clients for the server under test (tests/e2e/test_js_clients.py
// starts it and passes LIVELENS_URL and the credentials) and a small polling helper.
import { ConnectClient } from "@aws-sdk/client-connect";
import { ConnectContactLensClient } from "@aws-sdk/client-connect-contact-lens";
import { ConnectParticipantClient } from "@aws-sdk/client-connectparticipant";

export const url = process.env.LIVELENS_URL;
export const credentials = {
  accessKeyId: process.env.LIVELENS_ACCESS_KEY_ID,
  secretAccessKey: process.env.LIVELENS_SECRET_ACCESS_KEY,
};
export const region = "us-east-1";

/** The three AWS SDK v3 clients pointed at livelens (`endpoint` defaults to the server's URL). */
export function clients(endpoint = url, options = {}) {
  const config = { endpoint, region, credentials, maxAttempts: 1, ...options };
  return {
    connect: new ConnectClient(config),
    contactLens: new ConnectContactLensClient(config),
    participant: new ConnectParticipantClient(config),
  };
}

/** Resolves with the first truthy value of `check()`, polling every `interval` ms. */
export async function until(check, { timeout = 30000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Resolves with the error a promise rejects with (fails if it resolves). */
export async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

export const ISO_MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
