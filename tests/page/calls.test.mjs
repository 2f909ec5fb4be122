// Calls between browsers through the sandbox, with the real Plivo browser SDK (npm,
// unmodified) on both ends in Chromium, a fake microphone granted: ringing, answering,
// audio both ways (RTP bytes received), DTMF, hanging up from either side, rejecting,
// cancelling, a callee that is not there or may not receive calls, a crashed callee page,
// one endpoint logged in twice, password logins of both dialects. What the SDK needs of the
// sandbox (X-CallUUID, clean SDP) is also switched off once each (`skipChecks`), to show
// that a test fails without it. Six simulated hours of calls across token refreshes are in
// login.test.mjs, in the six hours of staying logged in.
import assert from "node:assert/strict";
import { newContext, pageTest, sandbox, setup } from "./harness.mjs";
import { registrarSettings } from "./signalling.mjs";
import {
  callContext, dial, events, passwordPhone, rtpBytes, sandboxCalls, tokenPhone, untilAudio, untilCall, untilEvent,
} from "./phones.mjs";

setup();

/** Two token logins that may call each other: alice (seeded endpoint 0) and bob (1). */
async function pair() {
  const context = await callContext(newContext);
  return { context, alice: await tokenPhone(context, 0), bob: await tokenPhone(context, 1) };
}

/** Rings `to` from `from` and answers: both SDKs say so and audio flows both ways. */
async function connect(from, to) {
  await dial(from, to.address);
  const incoming = await untilEvent(to.page, "onIncomingCall");
  assert.match(incoming.cause, new RegExp(from.username), "the caller is named");
  await untilEvent(from.page, "onCallRemoteRinging");
  await to.page.evaluate(() => window.plivo.client.answer());
  await untilEvent(from.page, "onCallAnswered");
  await untilAudio(from);
  await untilAudio(to);
}

pageTest("a call rings, is answered, carries audio both ways and DTMF, and the caller hangs up", async () => {
  const { alice, bob } = await pair();
  await connect(alice, bob);
  const [caller, callee] = [await rtpBytes(alice), await rtpBytes(bob)];
  assert.ok(caller > 2000 && callee > 2000, `RTP bytes received: caller ${caller}, callee ${callee}`);
  const call = await untilCall("answered");
  assert.equal(await alice.page.evaluate(() => window.plivo.client.getCallUUID()), call.id, "the call's id is the sandbox's X-CallUUID");
  await alice.page.evaluate(() => window.plivo.client.sendDtmf("5"));
  const dtmf = await untilEvent(bob.page, "onDtmfReceived");
  assert.equal(dtmf.cause, "5", "the digit sent");
  await alice.page.evaluate(() => window.plivo.client.hangup());
  await untilEvent(alice.page, "onCallTerminated");
  await untilEvent(bob.page, "onCallTerminated");
  assert.equal((await untilCall("ended")).ending, "caller hung up");
});

pageTest("the callee hangs up: the caller's call ends", async () => {
  const { alice, bob } = await pair();
  await connect(alice, bob);
  await bob.page.evaluate(() => window.plivo.client.hangup());
  await untilEvent(alice.page, "onCallTerminated");
  assert.equal((await untilCall("ended")).ending, "callee hung up");
});

pageTest("the callee rejects: the caller's call fails Busy", async () => {
  const { alice, bob } = await pair();
  await dial(alice, bob.address);
  await untilEvent(bob.page, "onIncomingCall");
  await bob.page.evaluate(() => window.plivo.client.reject());
  const failed = await untilEvent(alice.page, "onCallFailed");
  assert.equal(failed.cause, "Busy");
  assert.equal((await untilCall("ended")).status, 486);
});

pageTest("the caller cancels while it rings: Canceled, and the callee hears onIncomingCallCanceled", async () => {
  const { alice, bob } = await pair();
  await dial(alice, bob.address);
  await untilEvent(bob.page, "onIncomingCall");
  await untilEvent(alice.page, "onCallRemoteRinging");
  await alice.page.evaluate(() => window.plivo.client.hangup());
  assert.equal((await untilEvent(alice.page, "onCallFailed")).cause, "Canceled");
  await untilEvent(bob.page, "onIncomingCallCanceled");
  assert.equal((await untilCall("ended")).ending, "caller cancelled");
});

pageTest("a callee not logged in, or whose token does not allow incoming calls, is never rung: Unavailable", async () => {
  const context = await callContext(newContext);
  const alice = await tokenPhone(context, 0);
  const absent = await tokenPhone(context, 2);
  await absent.page.evaluate(() => window.plivo.client.logout());
  await untilEvent(absent.page, "onLogout");
  await dial(alice, absent.address);
  const failed = await untilEvent(alice.page, "onCallFailed");
  assert.equal(failed.cause, "Unavailable");
  assert.deepEqual([failed.reason, failed.code], ["SUBSCRIBER_ABSENT", 20], "the Q.850 reason reaches the SDK");

  const deaf = await tokenPhone(context, 3, { incoming: false });
  await dial(alice, deaf.address);
  assert.equal((await untilEvent(alice.page, "onCallFailed", 2)).cause, "Unavailable");
  assert.equal((await sandboxCalls())[0].ending, "callee's token does not allow incoming calls");
  assert.deepEqual(await events(deaf, "onIncomingCall"), [], "never rung");
});

pageTest("a caller whose token does not allow outgoing calls: the SDK refuses at once, and the sandbox would too", async () => {
  const context = await callContext(newContext);
  const mute = await tokenPhone(context, 0, { outgoing: false });
  const bob = await tokenPhone(context, 1);
  const placed = await dial(mute, bob.address);
  assert.equal(placed, false, "the SDK itself refuses (onPermissionDenied)");
  assert.deepEqual(await sandboxCalls(), [], "nothing reached the sandbox");
});

pageTest("a crashed callee page: the caller hears the hang-up within seconds", async () => {
  const { alice, bob } = await pair();
  await connect(alice, bob);
  const crashed = Date.now();
  // The renderer dies: no unload handler runs, no BYE is sent.
  await bob.page.goto("chrome://crash").catch(() => {});
  const ended = await untilEvent(alice.page, "onCallTerminated", 1, 20_000);
  const seconds = (ended.at - crashed) / 1000;
  assert.ok(seconds < 10, `the caller's call ended ${seconds} s after the crash`);
  assert.equal((await untilCall("ended")).ending, "callee's connection lost");
  console.log(`# crashed callee: the caller's call ended after ${seconds.toFixed(1)} s (reconnect grace 3 s)`);
});

pageTest("one endpoint logged in twice: only the most recent login rings", async () => {
  const context = await callContext(newContext);
  const alice = await tokenPhone(context, 0);
  const older = await tokenPhone(context, 1);
  const newer = await tokenPhone(context, 1);
  await dial(alice, newer.address);
  await untilEvent(newer.page, "onIncomingCall");
  await untilEvent(alice.page, "onCallRemoteRinging");
  assert.deepEqual(await events(older, "onIncomingCall"), [], "the older login does not ring");
  await alice.page.evaluate(() => window.plivo.client.hangup());
  await untilEvent(newer.page, "onIncomingCallCanceled");
});

for (const dialect of ["vobiz", "plivo"]) {
  pageTest(`${dialect} password logins call each other (407 answered with the endpoint's digest)`, async () => {
    const context = await callContext(newContext);
    const caller = await passwordPhone(context, dialect, 0);
    const callee = await passwordPhone(context, dialect, 1);
    await caller.page.evaluate((address) => window.plivo.client.call(address), callee.address);
    await untilEvent(callee.page, "onIncomingCall");
    await callee.page.evaluate(() => window.plivo.client.answer());
    await untilEvent(caller.page, "onCallAnswered");
    await untilAudio(caller);
    await untilAudio(callee);
    await callee.page.evaluate(() => window.plivo.client.hangup());
    await untilEvent(caller.page, "onCallTerminated");
  });
}

pageTest("without X-CallUUID on its INVITE the callee's SDK never rings (skipChecks call-uuid)", async () => {
  const { alice, bob } = await pair();
  await registrarSettings({ skipChecks: ["call-uuid"] });
  await dial(alice, bob.address);
  // The callee's SDK sends 180 itself; the caller hears it ring, the callee's page does not.
  await untilEvent(alice.page, "onCallRemoteRinging");
  await untilCall("ringing");
  assert.deepEqual(await events(bob, "onIncomingCall"), [], "no onIncomingCall without X-CallUUID");
  await alice.page.evaluate(() => window.plivo.client.hangup());
  await untilCall("ended");
});

pageTest("without its SDP cleaned the call fails Incompatible SDP (skipChecks sdp)", async () => {
  const { alice, bob } = await pair();
  await registrarSettings({ skipChecks: ["sdp"] });
  await dial(alice, bob.address);
  await untilEvent(bob.page, "onIncomingCall");
  await bob.page.evaluate(() => window.plivo.client.answer());
  const failed = await untilEvent(alice.page, "onCallFailed");
  assert.equal(failed.cause, "Incompatible SDP");
  assert.equal((await untilCall("ended")).status, 488);
  await sandbox("PUT", "/__sandbox/signalling/settings", { skipChecks: [] });
});

