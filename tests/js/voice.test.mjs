// V1 (connect-contact-lens) on a voice contact, read with @aws-sdk/client-connect-contact-lens one segment
// per page. tests/e2e/test_js_clients.py makes the call (a rule, utterances through livelens' native API,
// the end of the call) and passes its ids.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ListRealtimeContactAnalysisSegmentsCommand } from "@aws-sdk/client-connect-contact-lens";

import { clients, until } from "./common.mjs";

const InstanceId = process.env.LIVELENS_VOICE_INSTANCE_ID;
const ContactId = process.env.LIVELENS_VOICE_CONTACT_ID;

test("V1 on a voice contact: transcripts, categories and the summary, one segment per page", async () => {
  const { contactLens } = clients();
  const segments = await until(async () => {
    const found = [];
    let NextToken;
    for (;;) {
      const page = await contactLens.send(new ListRealtimeContactAnalysisSegmentsCommand({
        InstanceId, ContactId, MaxResults: 1, ...(NextToken ? { NextToken } : {}),
      }));
      assert.ok(page.Segments.length <= 1);
      found.push(...page.Segments);
      if (!page.NextToken) return found.some((segment) => segment.PostContactSummary) && found;
      if (!page.Segments.length) return false; // live: nothing new yet
      NextToken = page.NextToken;
    }
  }, { what: "the call's completed analysis", interval: 200 });

  const transcripts = segments.filter((segment) => segment.Transcript).map((segment) => segment.Transcript);
  assert.deepEqual(transcripts.map((t) => [t.ParticipantRole, t.BeginOffsetMillis, t.EndOffsetMillis]), [
    ["AGENT", 0, 4000], ["CUSTOMER", 5000, 11000], ["AGENT", 12000, 16000],
  ]);
  for (const transcript of transcripts) {
    assert.ok(["POSITIVE", "NEUTRAL", "NEGATIVE"].includes(transcript.Sentiment));
    assert.equal(typeof transcript.Content, "string");
  }
  const customer = transcripts[1];
  assert.match(customer.Content, /\[PII\]/, "V1 returns the redacted form");
  const issue = customer.IssuesDetected[0].CharacterOffsets;
  assert.match(customer.Content.slice(issue.BeginOffsetChar, issue.EndOffsetChar), /charged twice/);

  const categories = segments.filter((segment) => segment.Categories).map((segment) => segment.Categories);
  assert.deepEqual(categories.flatMap((c) => c.MatchedCategories), ["charged-twice"]);
  assert.deepEqual(categories[0].MatchedDetails["charged-twice"].PointsOfInterest, [
    { BeginOffsetMillis: 5000, EndOffsetMillis: 11000 },
  ]);
  const summary = segments.find((segment) => segment.PostContactSummary).PostContactSummary;
  assert.equal(summary.Status, "COMPLETED");
  assert.ok(summary.Content.length > 0 && summary.Content.length <= 1762);
});
