// A whole chat as Amazon Connect's own clients run it: amazon-connect-chatjs as the customer (talking to
// http://localhost:PORT, so the websocket URL must be one chatjs accepts), the agent through
// @aws-sdk/client-connectparticipant, a Contact Lens rule made with @aws-sdk/client-connect, and the
// analysis read back page by page (MaxResults=1) while the contact is live and after it ended.
import { chatjs, opened, pushed, subscribed } from "./browser.mjs";

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CreateInstanceCommand,
  CreateParticipantCommand,
  CreateRuleCommand,
  DescribeContactCommand,
  DescribeInstanceCommand,
  DescribeRuleCommand,
  ListRealtimeContactAnalysisSegmentsV2Command,
  StartChatContactCommand,
  StopContactCommand,
} from "@aws-sdk/client-connect";
import {
  CreateParticipantConnectionCommand,
  GetTranscriptCommand,
  SendEventCommand,
  SendMessageCommand,
} from "@aws-sdk/client-connectparticipant";

import { ISO_MILLIS, clients, until, url } from "./common.mjs";

const TYPING = "application/vnd.amazonaws.connect.event.typing";
const DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered";
const READ = "application/vnd.amazonaws.connect.event.message.read";
const CUSTOMER_SAYS = "Hi, my email is a.b@example.com and I was charged twice.";
const AGENT_SAYS = "Sorry about that, I have refunded the duplicate charge.";
const ALL_TYPES = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary"];

/** Pages V2 with MaxResults=1 from `token` until a page is empty or has no NextToken. */
async function pageOneByOne(connect, request, token) {
  const segments = [];
  for (;;) {
    const page = await connect.send(new ListRealtimeContactAnalysisSegmentsV2Command({
      ...request, MaxResults: 1, ...(token ? { NextToken: token } : {}),
    }));
    assert.ok(page.Segments.length <= 1);
    segments.push(...page.Segments);
    if (!page.Segments.length || !page.NextToken) return { segments, page, token: page.NextToken ?? token };
    token = page.NextToken;
  }
}

const kinds = (segments) => segments.map((segment) => Object.keys(segment)[0]);

test("a whole chat: chatjs customer, JS participant-client agent, rules and V2 paging", async () => {
  const localhost = url.replace("127.0.0.1", "localhost");
  const { connect, participant } = clients(localhost);
  const { Id: InstanceId } = await connect.send(new CreateInstanceCommand({
    IdentityManagementType: "CONNECT_MANAGED", InboundCallsEnabled: true, OutboundCallsEnabled: true,
    InstanceAlias: `js-chat-${Date.now()}`,
  }));
  const { RuleId } = await connect.send(new CreateRuleCommand({
    InstanceId, Name: "charged-twice", TriggerEventSource: { EventSourceName: "OnRealTimeChatAnalysisAvailable" },
    Function: 'customer said "charged twice"', PublishStatus: "PUBLISHED",
    Actions: [{ ActionType: "ASSIGN_CONTACT_CATEGORY", AssignContactCategoryAction: {} }],
  }));
  const isDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());
  const { Rule } = await connect.send(new DescribeRuleCommand({ InstanceId, RuleId }));
  assert.ok(isDate(Rule.CreatedTime) && isDate(Rule.LastUpdatedTime));
  const { Instance } = await connect.send(new DescribeInstanceCommand({ InstanceId }));
  assert.ok(isDate(Instance.CreatedTime));
  const started = await connect.send(new StartChatContactCommand({
    InstanceId, ContactFlowId: "js-flow", ParticipantDetails: { DisplayName: "Dana" },
  }));
  const ContactId = started.ContactId;
  const agent = await connect.send(new CreateParticipantCommand({
    InstanceId, ContactId, ParticipantDetails: { ParticipantRole: "AGENT", DisplayName: "Sam" },
  }));
  const agentConnection = await participant.send(new CreateParticipantConnectionCommand({
    ParticipantToken: agent.ParticipantCredentials.ParticipantToken, Type: ["WEBSOCKET", "CONNECTION_CREDENTIALS"],
  }));
  // Asked on localhost, the websocket is offered on 127.0.0.1 (chatjs refuses ws://localhost).
  assert.match(agentConnection.Websocket.Url, /^ws:\/\/127\.0\.0\.1:\d+\//);
  const agentToken = agentConnection.ConnectionCredentials.ConnectionToken;

  chatjs.ChatSession.setGlobalConfig({
    region: "us-east-1", endpoint: localhost,
    loggerConfig: { useDefaultLogger: false },
    features: { messageReceipts: { shouldSendMessageReceipts: true, throttleTime: 100 } },
  });
  const session = chatjs.ChatSession.create({
    chatDetails: { contactId: ContactId, participantId: started.ParticipantId, participantToken: started.ParticipantToken },
    type: "CUSTOMER",
  });
  const seen = { messages: [], typing: [], read: [], delivered: [], heartbeatFailures: 0 };
  session.onMessage((event) => seen.messages.push(event.data));
  session.onTyping((event) => seen.typing.push(event.data));
  session.onReadReceipt((event) => seen.read.push(event.data));
  session.onDeliveredReceipt((event) => seen.delivered.push(event.data));
  session.onDeepHeartbeatFailure(() => { seen.heartbeatFailures += 1; });

  const connected = await session.connect();
  assert.equal(connected.connectSuccess, true);
  await until(() => opened.length === 1, { what: "chatjs opening its websocket" });
  assert.match(opened[0], /^ws:\/\/127\.0\.0\.1:\d+\/livelens\/v1\/participant\/websocket\?token=/);
  // connect() can resolve before the socket has subscribed; what is sent before that is not pushed to it
  await until(() => subscribed.length === 1, { what: "chatjs subscribing to aws/chat" });

  // the customer speaks; the agent reads it with GetTranscript
  const sent = await session.sendMessage({ contentType: "text/plain", message: CUSTOMER_SAYS });
  const customerMessageId = sent.data.Id;
  assert.match(sent.data.AbsoluteTime, ISO_MILLIS);
  const agentView = await participant.send(new GetTranscriptCommand({
    ConnectionToken: agentToken, ScanDirection: "FORWARD", SortOrder: "ASCENDING",
  }));
  const heard = agentView.Transcript.find((item) => item.Id === customerMessageId);
  assert.equal(heard.Content, CUSTOMER_SAYS);
  assert.equal(heard.ParticipantRole, "CUSTOMER");

  // the agent types, answers and sends receipts; chatjs raises each once
  await participant.send(new SendEventCommand({ ConnectionToken: agentToken, ContentType: TYPING }));
  await until(() => seen.typing.length, { what: "onTyping" });
  assert.equal(seen.typing[0].ParticipantRole, "AGENT");
  assert.equal(seen.typing[0].ContentType, TYPING);
  const reply = await participant.send(new SendMessageCommand({
    ConnectionToken: agentToken, ContentType: "text/plain", Content: AGENT_SAYS,
  }));
  const answer = await until(() => seen.messages.find((item) => item.Id === reply.Id), { what: "the agent's reply" });
  assert.equal(answer.Content, AGENT_SAYS);
  assert.equal(answer.DisplayName, "Sam");
  for (const ContentType of [DELIVERED, READ]) {
    await participant.send(new SendEventCommand({
      ConnectionToken: agentToken, ContentType, Content: JSON.stringify({ messageId: customerMessageId }),
    }));
  }
  await until(() => seen.delivered.length && seen.read.length, { what: "onDeliveredReceipt and onReadReceipt" });
  assert.equal(seen.read[0].MessageMetadata.MessageId, customerMessageId);
  assert.equal(seen.read[0].MessageMetadata.Receipts[0].RecipientParticipantId, agent.ParticipantId);
  assert.match(seen.read[0].MessageMetadata.Receipts[0].ReadTimestamp, ISO_MILLIS);
  assert.equal(seen.delivered[0].MessageMetadata.MessageId, customerMessageId);

  // the customer reads the reply: the agent sees the receipt in its transcript
  await session.sendEvent({ contentType: READ, content: JSON.stringify({ messageId: reply.Id }) });
  await until(async () => {
    const view = await participant.send(new GetTranscriptCommand({ ConnectionToken: agentToken, MaxResults: 15 }));
    const item = view.Transcript.find((entry) => entry.Id === reply.Id);
    return item?.MessageMetadata?.Receipts?.some((receipt) => receipt.ReadTimestamp);
  }, { what: "the customer's read receipt" });

  // an attachment from chatjs reaches the agent and the websocket with its ContentType
  await session.sendAttachment({ attachment: new File(["order 1234, charged twice"], "receipt.txt", { type: "text/plain" }) });
  const attached = await until(
    () => pushed.find((item) => item.Type === "ATTACHMENT"), { what: "the attachment pushed" },
  );
  assert.deepEqual(
    [attached.Attachments[0].AttachmentName, attached.Attachments[0].ContentType, attached.Attachments[0].Status],
    ["receipt.txt", "text/plain", "APPROVED"],
  );

  // the customer types: the event is pushed to the chat's websockets with the customer's role
  await session.sendEvent({ contentType: TYPING });
  const typing = await until(
    () => pushed.find((item) => item.ContentType === TYPING && item.ParticipantRole === "CUSTOMER"),
    { what: "the customer's typing pushed" },
  );
  assert.equal(typing.DisplayName, "Dana");

  // chatjs' own transcript
  const transcript = await session.getTranscript({ scanDirection: "BACKWARD", sortOrder: "ASCENDING", maxResults: 15 });
  const messages = transcript.data.Transcript.filter((item) => item.Type === "MESSAGE").map((item) => item.Content);
  assert.deepEqual(messages, [CUSTOMER_SAYS, AGENT_SAYS]);

  // V2 one segment per page while the contact is live: every page carries a NextToken
  const request = { InstanceId, ContactId, OutputType: "Raw", SegmentTypes: ALL_TYPES };
  let live = { segments: [], token: undefined };
  await until(async () => {
    const more = await pageOneByOne(connect, request, live.token);
    live = { segments: [...live.segments, ...more.segments], token: more.token, page: more.page };
    assert.ok(more.page.NextToken, "a live contact's page has a NextToken");
    return kinds(live.segments).filter((kind) => kind === "Transcript").length === 2
      && kinds(live.segments).includes("Attachments") && kinds(live.segments).includes("Categories");
  }, { what: "the live contact's analysis" });
  assert.equal(live.page.Status, "IN_PROGRESS");

  // the customer leaves; chatjs hears the end, and the last page has no NextToken
  await session.disconnectParticipant();
  const rest = await until(async () => {
    const more = await pageOneByOne(connect, request, live.token);
    live = { segments: [...live.segments, ...more.segments], token: more.token, page: more.page };
    return !more.page.NextToken && more.page.Status === "COMPLETED";
  }, { what: "the completed analysis" });
  assert.ok(rest);
  const raw = live.segments;
  const { Contact } = await connect.send(new DescribeContactCommand({ InstanceId, ContactId }));
  assert.ok(isDate(Contact.InitiationTimestamp) && isDate(Contact.DisconnectTimestamp));
  assert.deepEqual(new Set(kinds(raw)), new Set(ALL_TYPES));
  for (const segment of raw) {
    const body = Object.values(segment)[0];
    if (body.Time) assert.ok(isDate(body.Time.AbsoluteTime));
  }
  const category = raw.find((segment) => segment.Categories).Categories;
  assert.deepEqual(Object.keys(category.MatchedDetails), ["charged-twice"]);
  assert.equal(category.MatchedDetails["charged-twice"].PointsOfInterest[0].TranscriptItems[0].Id, customerMessageId);

  // Raw and Redacted mark the same issue: the sentence is not split inside the email address
  const { segments: redacted } = await pageOneByOne(connect, { ...request, OutputType: "Redacted" });
  const issue = (segments) => segments.find((segment) => segment.Issues).Issues.IssuesDetected[0].TranscriptItems[0];
  assert.equal(issue(raw).Content, "my email is a.b@example.com and I was charged twice");
  assert.equal(issue(redacted).Content, "my email is [PII] and I was charged twice");
  const redactedText = redacted.find((segment) => segment.Transcript?.Id === customerMessageId).Transcript.Content;
  const offsets = issue(redacted).CharacterOffsets;
  assert.equal(redactedText.slice(offsets.BeginOffsetChar, offsets.EndOffsetChar), issue(redacted).Content);

  // every item was pushed once, in order
  const ids = pushed.map((item) => item.Id);
  assert.equal(new Set(ids).size, ids.length, "no item pushed twice");
  const times = pushed.map((item) => item.AbsoluteTime);
  assert.deepEqual([...times].sort(), times, "items pushed in order");
  const order = pushed.map((item) => item.Type === "EVENT" ? item.ContentType.split(".").at(-1) : item.Type);
  const expected = [
    "MESSAGE", "typing", "MESSAGE", "MESSAGEMETADATA", "MESSAGEMETADATA", "MESSAGEMETADATA", "ATTACHMENT", "typing",
  ];
  assert.deepEqual(order.filter((kind) => expected.includes(kind)), expected);
  assert.equal(seen.heartbeatFailures, 0);
});

test("deep heartbeats are answered; the contact is stopped: chatjs hears the chat end (onEnded), pushed once", async () => {
  const { connect } = clients();
  const { Id: InstanceId } = await connect.send(new CreateInstanceCommand({
    IdentityManagementType: "CONNECT_MANAGED", InboundCallsEnabled: true, OutboundCallsEnabled: true,
  }));
  const started = await connect.send(new StartChatContactCommand({
    InstanceId, ContactFlowId: "js-flow", ParticipantDetails: { DisplayName: "Lee" },
  }));
  chatjs.ChatSession.setGlobalConfig({ region: "us-east-1", endpoint: url, loggerConfig: { useDefaultLogger: false } });
  const session = chatjs.ChatSession.create({
    chatDetails: {
      contactId: started.ContactId, participantId: started.ParticipantId, participantToken: started.ParticipantToken,
    },
    type: "CUSTOMER",
  });
  let ended = 0;
  const heartbeats = { success: 0, failure: 0 };
  session.onEnded(() => { ended += 1; });
  session.onDeepHeartbeatSuccess(() => { heartbeats.success += 1; });
  session.onDeepHeartbeatFailure(() => { heartbeats.failure += 1; });
  await session.connect();
  // chatjs sends its deep heartbeat (aws/ping) every 10 s and raises a failure unless it is answered
  await until(() => heartbeats.success, { timeout: 25000, what: "a deep heartbeat answered" });
  assert.equal(heartbeats.failure, 0);
  await connect.send(new StopContactCommand({ InstanceId, ContactId: started.ContactId }));
  await until(() => ended, { what: "onEnded" });
  const endedItems = pushed.filter((item) => item.ContactId === started.ContactId && item.ContentType?.endsWith("chat.ended"));
  assert.equal(endedItems.length, 1);
});
