// Every typed error the AWS SDK for JavaScript v3 models, raised as its own exception class with the
// status code the model declares, and recovery from a skewed client clock.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AccessDeniedException as ConnectAccessDenied,
  ConnectServiceException,
  CreateContactCommand,
  CreateInstanceCommand,
  InvalidRequestException,
  ListInstancesCommand,
  ListRealtimeContactAnalysisSegmentsV2Command,
  OutputTypeNotFoundException,
  ResourceNotFoundException,
  StartChatContactCommand,
} from "@aws-sdk/client-connect";
import {
  ListRealtimeContactAnalysisSegmentsCommand,
  ResourceNotFoundException as ContactLensResourceNotFound,
} from "@aws-sdk/client-connect-contact-lens";
import { AccessDeniedException, SendMessageCommand } from "@aws-sdk/client-connectparticipant";

import { clients, failure, url } from "./common.mjs";

const { connect, contactLens, participant } = clients();
const MISSING = "00000000-0000-4000-8000-000000000000";

async function newInstance() {
  const created = await connect.send(new CreateInstanceCommand({
    IdentityManagementType: "CONNECT_MANAGED", InboundCallsEnabled: true, OutboundCallsEnabled: true,
  }));
  return created.Id;
}

function assertTyped(error, type, status, mentions) {
  assert.ok(error instanceof type, `${error.name}: ${error.message}`);
  assert.equal(error.name, type.name);
  assert.equal(error.$metadata.httpStatusCode, status);
  assert.doesNotMatch(error.message, /Traceback/);
  if (mentions) assert.match(error.message, mentions);
}

test("ResourceNotFoundException from connect and connect-contact-lens", async () => {
  const instanceId = await newInstance();
  const v2 = await failure(connect.send(new ListRealtimeContactAnalysisSegmentsV2Command({
    InstanceId: instanceId, ContactId: MISSING, OutputType: "Raw", SegmentTypes: ["Transcript"],
  })));
  assertTyped(v2, ResourceNotFoundException, 404);
  const v1 = await failure(contactLens.send(new ListRealtimeContactAnalysisSegmentsCommand({
    InstanceId: instanceId, ContactId: MISSING,
  })));
  assertTyped(v1, ContactLensResourceNotFound, 404);
});

test("InvalidRequestException names the problem", async () => {
  const InstanceId = await newInstance();
  const { ContactId } = await connect.send(new CreateContactCommand({
    InstanceId, Channel: "VOICE", InitiationMethod: "INBOUND",
  }));
  const voiceOnV2 = await failure(connect.send(new ListRealtimeContactAnalysisSegmentsV2Command({
    InstanceId, ContactId, OutputType: "Raw", SegmentTypes: ["Transcript"],
  })));
  assertTyped(voiceOnV2, InvalidRequestException, 400, /VOICE/);
  const forged = await failure(connect.send(new ListRealtimeContactAnalysisSegmentsV2Command({
    InstanceId, ContactId, OutputType: "Raw", SegmentTypes: ["Transcript"], NextToken: "not-a-token",
  })));
  assertTyped(forged, InvalidRequestException, 400);
  const tooMany = await failure(connect.send(new ListRealtimeContactAnalysisSegmentsV2Command({
    InstanceId, ContactId, OutputType: "Raw", SegmentTypes: ["Transcript"], MaxResults: 1000,
  })));
  assertTyped(tooMany, InvalidRequestException, 400, /MaxResults/);
});

test("OutputTypeNotFoundException for an output the contact's redaction policy does not keep", async () => {
  const InstanceId = await newInstance();
  const { ContactId } = await connect.send(new StartChatContactCommand({
    InstanceId, ContactFlowId: "js-flow", ParticipantDetails: { DisplayName: "Kim" },
    Attributes: { "livelens:redaction": "None" },
  }));
  const error = await failure(connect.send(new ListRealtimeContactAnalysisSegmentsV2Command({
    InstanceId, ContactId, OutputType: "Redacted", SegmentTypes: ["Transcript"],
  })));
  assertTyped(error, OutputTypeNotFoundException, 404, /Redacted/);
});

test("AccessDeniedException for a participant token that is not one", async () => {
  const error = await failure(participant.send(new SendMessageCommand({
    ConnectionToken: "C1.bm90LWEtdG9rZW4.forged", ContentType: "text/plain", Content: "hello",
  })));
  assertTyped(error, AccessDeniedException, 403);
  // connect's own AccessDeniedException class exists too; a participant error is not mistaken for it
  assert.ok(!(error instanceof ConnectAccessDenied));
});

test("InvalidSignatureException for a wrong secret key", async () => {
  const wrong = clients(url, {
    credentials: { accessKeyId: process.env.LIVELENS_ACCESS_KEY_ID, secretAccessKey: "not-the-secret-key-0000000" },
  });
  const error = await failure(wrong.connect.send(new ListInstancesCommand({})));
  assert.ok(error instanceof ConnectServiceException);
  assert.equal(error.name, "InvalidSignatureException");
  assert.equal(error.$metadata.httpStatusCode, 403);
  assert.match(error.message, /signature/i);
});

test("a client whose clock is an hour off recovers: the SDK corrects its offset from the server's Date", async () => {
  const skewed = -3600 * 1000;
  const once = clients(url, { systemClockOffset: skewed });
  const error = await failure(once.connect.send(new ListInstancesCommand({})));
  assert.equal(error.name, "InvalidSignatureException");
  assert.match(error.message, /expired|time/i);

  const retrying = clients(url, { systemClockOffset: skewed, maxAttempts: 3 });
  const answer = await retrying.connect.send(new ListInstancesCommand({}));
  assert.ok(Array.isArray(answer.InstanceSummaryList));
  assert.equal(answer.$metadata.attempts, 2);
  assert.ok(Math.abs(retrying.connect.config.systemClockOffset) < 60 * 1000);
});
