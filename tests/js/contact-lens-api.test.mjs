// The current Contact Lens API surface with the AWS SDK for JavaScript v3 (issue 14): extraction definitions,
// a rule in AWS's JSON Rules Function language with Tags and an EXTRACT_INFORMATION action, tags on the rule,
// a chat that matches it, V2 with ListFilter (Categories and ExtractedInformation), and SearchContacts.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CreateExtractionDefinitionCommand,
  CreateInstanceCommand,
  CreateParticipantCommand,
  CreateRuleCommand,
  DeleteExtractionDefinitionCommand,
  DeleteRuleCommand,
  DescribeExtractionDefinitionCommand,
  DescribeRuleCommand,
  ListExtractionDefinitionsCommand,
  ListRealtimeContactAnalysisSegmentsV2Command,
  ListTagsForResourceCommand,
  SearchContactsCommand,
  StartChatContactCommand,
  StopContactCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateExtractionDefinitionCommand,
} from "@aws-sdk/client-connect";
import { CreateParticipantConnectionCommand, SendMessageCommand } from "@aws-sdk/client-connectparticipant";

import { clients, failure, until } from "./common.mjs";

const TYPES = ["Transcript", "Categories", "ExtractedInformation"];
const isDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());
const tagFilter = (TagValue) => ({ CategoriesAttributeFilter: { TagCondition: { TagKey: "team", TagValue } } });
// Written from the AWS "Rules Function language" reference: an exact-match condition on the customer's words.
const FUNCTION = JSON.stringify({
  Version: "2022-11-25",
  RuleFunction: {
    Operator: "AND",
    Operands: [{
      Operator: "CONTAINS_ANY", Operands: ["moving house"], Negate: false,
      ComparisonValue: "$.ContactLens.RealTimeChat.ExactMatch.Transcript",
      FilterClause: { LogicOperator: "AND", Filters: [{ Type: "ParticipantRole", Data: "CUSTOMER" }] },
    }],
  },
}, null, 2);

/**
 * `command` with `ListFilter` in its JSON body. The JS SDK's connect model (3.1136, the newest) does not yet
 * declare V2's ListFilter, so the client drops the member; a build-step middleware adds it before signing.
 */
function withListFilter(command, listFilter) {
  command.middlewareStack.add((next) => async (args) => {
    args.request.body = JSON.stringify({ ...JSON.parse(args.request.body), ListFilter: listFilter });
    delete args.request.headers["content-length"];
    return next(args);
  }, { step: "build", name: "livelensListFilter" });
  return command;
}

test("extraction definitions, a tagged AWS-JSON rule, ListFilter, ExtractedInformation and SearchContacts", async () => {
  const { connect, participant } = clients();
  const { Id: InstanceId } = await connect.send(new CreateInstanceCommand({
    IdentityManagementType: "CONNECT_MANAGED", InboundCallsEnabled: true, OutboundCallsEnabled: true,
    InstanceAlias: `js-surface-${Date.now()}`,
  }));

  // extraction definitions: create (ClientToken idempotent), describe, list, update
  const request = {
    InstanceId, Name: "city", ClientToken: `js-${Date.now()}`,
    ExtractionConfiguration: { PromptHint: "City the customer is moving to" }, Tags: { team: "moves" },
  };
  const created = await connect.send(new CreateExtractionDefinitionCommand(request));
  const DefinitionId = created.ExtractionDefinitionId;
  assert.equal((await connect.send(new CreateExtractionDefinitionCommand(request))).ExtractionDefinitionId, DefinitionId);
  assert.ok(created.ExtractionDefinitionArn.endsWith(`/extraction-definition/${DefinitionId}`));
  await connect.send(new UpdateExtractionDefinitionCommand({
    InstanceId, ExtractionDefinitionId: DefinitionId, Name: "destination",
    ExtractionConfiguration: { PromptHint: "City where the customer is moving to" }, Display: { Label: "Destination" },
  }));
  const { ExtractionDefinition: described } = await connect.send(new DescribeExtractionDefinitionCommand({
    InstanceId, ExtractionDefinitionId: DefinitionId,
  }));
  assert.equal(described.Name, "destination");
  assert.equal(described.ExtractionConfiguration.PromptHint, "City where the customer is moving to");
  assert.deepEqual(described.Display, { Label: "Destination" });
  assert.deepEqual(described.Tags, { team: "moves" });
  assert.ok(isDate(described.CreatedTime));
  const listed = await connect.send(new ListExtractionDefinitionsCommand({ InstanceId }));
  assert.deepEqual(listed.ExtractionDefinitionSummaryList.map((item) => item.Name), ["destination"]);

  // a rule in AWS's JSON language, with Tags, a category and the extraction; Function is returned as given
  const { RuleId, RuleArn } = await connect.send(new CreateRuleCommand({
    InstanceId, Name: "moving", TriggerEventSource: { EventSourceName: "OnRealTimeChatAnalysisAvailable" },
    Function: FUNCTION, PublishStatus: "PUBLISHED", Tags: { team: "billing" },
    Actions: [
      { ActionType: "ASSIGN_CONTACT_CATEGORY", AssignContactCategoryAction: {} },
      { ActionType: "EXTRACT_INFORMATION",
        ExtractInformationAction: { RulesExtractionDefinitions: [{ Identifier: DefinitionId }] } },
    ],
  }));
  const { Rule } = await connect.send(new DescribeRuleCommand({ InstanceId, RuleId }));
  assert.equal(Rule.Function, FUNCTION);
  assert.deepEqual(Rule.Tags, { team: "billing" });

  // tags on the rule: add, list, remove (the filter below relies on team=billing staying)
  await connect.send(new TagResourceCommand({ resourceArn: RuleArn, tags: { note: "js" } }));
  assert.deepEqual((await connect.send(new ListTagsForResourceCommand({ resourceArn: RuleArn }))).tags,
    { team: "billing", note: "js" });
  await connect.send(new UntagResourceCommand({ resourceArn: RuleArn, tagKeys: ["note"] }));
  assert.deepEqual((await connect.send(new ListTagsForResourceCommand({ resourceArn: RuleArn }))).tags,
    { team: "billing" });

  // a chat that matches the rule and names the city
  const started = await connect.send(new StartChatContactCommand({
    InstanceId, ContactFlowId: "js-flow", ParticipantDetails: { DisplayName: "Dana" },
  }));
  const ContactId = started.ContactId;
  const agent = await connect.send(new CreateParticipantCommand({
    InstanceId, ContactId, ParticipantDetails: { ParticipantRole: "AGENT", DisplayName: "Sam" },
  }));
  const connection = async (ParticipantToken) => (await participant.send(new CreateParticipantConnectionCommand({
    ParticipantToken, Type: ["CONNECTION_CREDENTIALS"],
  }))).ConnectionCredentials.ConnectionToken;
  const customerToken = await connection(started.ParticipantToken);
  const agentToken = await connection(agent.ParticipantCredentials.ParticipantToken);
  const say = (ConnectionToken, Content) => participant.send(new SendMessageCommand({
    ConnectionToken, ContentType: "text/plain", Content,
  }));
  await say(customerToken, "Hi, I am moving house to Seattle next month.");
  await say(agentToken, "Sure, I can update your address for the move.");
  await connect.send(new StopContactCommand({ InstanceId, ContactId }));

  const v2 = (listFilter) => connect.send(withListFilter(new ListRealtimeContactAnalysisSegmentsV2Command({
    InstanceId, ContactId, OutputType: "Raw", SegmentTypes: TYPES, MaxResults: 100,
  }), listFilter));
  const kept = await until(async () => {
    const page = await v2(tagFilter("billing"));
    return page.Status === "COMPLETED" && page;
  }, { what: "the completed analysis" });
  const segments = kept.Segments;
  const categories = segments.filter((segment) => segment.Categories);
  assert.equal(categories.length, 1);
  assert.deepEqual(Object.keys(categories[0].Categories.MatchedDetails), ["moving"]);
  const matched = categories[0].Categories.MatchedDetails.moving.PointsOfInterest[0].TranscriptItems[0];
  const dropped = await v2(tagFilter("sales"));
  assert.equal(dropped.Segments.filter((segment) => segment.Categories).length, 0);
  assert.equal(dropped.Segments.filter((segment) => segment.Transcript).length, 2, "the filter keeps transcripts");

  // the ExtractedInformation segment, typed by the SDK: offsets point into the customer's message
  const extracted = segments.filter((segment) => segment.ExtractedInformation).map((segment) => segment.ExtractedInformation);
  assert.equal(extracted.length, 1);
  const [information] = extracted;
  assert.equal(information.ExtractionDefinitionId, DefinitionId);
  assert.equal(information.ExtractionDefinitionName, "destination");
  assert.equal(information.ExtractionDefinitionDisplayLabel, "Destination");
  assert.equal(information.ExtractedValues[0].Content, "Seattle");
  const [point] = information.ExtractedValues[0].PointsOfInterest;
  const transcripts = new Map(segments.filter((segment) => segment.Transcript)
    .map((segment) => [segment.Transcript.Id, segment.Transcript]));
  const said = transcripts.get(point.Id);
  assert.equal(said.ParticipantRole, "CUSTOMER");
  assert.equal(matched.Id, point.Id, "the category and the value point at the same message");
  assert.ok(isDate(said.Time.AbsoluteTime));
  const { BeginOffsetChar, EndOffsetChar } = point.CharacterOffsets;
  assert.equal(typeof BeginOffsetChar, "number");
  assert.equal(said.Content.slice(BeginOffsetChar, EndOffsetChar), "Seattle");

  // SearchContacts finds the contact by what the customer said, and not by words nobody said
  const now = Date.now();
  const search = (SearchText) => connect.send(new SearchContactsCommand({
    InstanceId,
    TimeRange: { Type: "INITIATION_TIMESTAMP", StartTime: new Date(now - 3600000), EndTime: new Date(now + 3600000) },
    SearchCriteria: { ContactAnalysis: { Transcript: { Criteria: [
      { ParticipantRole: "CUSTOMER", SearchText: [SearchText], MatchType: "MATCH_ANY" },
    ] } } },
  }));
  const found = await search("seattle");
  assert.deepEqual(found.Contacts.map((contact) => contact.Id), [ContactId]);
  assert.ok(isDate(found.Contacts[0].InitiationTimestamp));
  assert.deepEqual((await search("router")).Contacts, []);

  // a definition used by a rule cannot be deleted; once the rule is gone it can
  const refused = await failure(connect.send(new DeleteExtractionDefinitionCommand({
    InstanceId, ExtractionDefinitionId: DefinitionId,
  })));
  assert.equal(refused.name, "InvalidRequestException");
  assert.equal(refused.$metadata.httpStatusCode, 400);
  assert.match(refused.message, /moving/);
  await connect.send(new DeleteRuleCommand({ InstanceId, RuleId }));
  await connect.send(new DeleteExtractionDefinitionCommand({ InstanceId, ExtractionDefinitionId: DefinitionId }));
  const gone = await failure(connect.send(new DescribeExtractionDefinitionCommand({
    InstanceId, ExtractionDefinitionId: DefinitionId,
  })));
  assert.equal(gone.name, "ResourceNotFoundException");
});
