// The development homeserver against the Client-Server API as the spec (and Synapse) define it:
// accounts, rooms and membership rules, sends, /sync long-polling, filters, pagination, the
// test controls (rate limits, faults), TURN credentials, persistence across a restart, and the
// HTTP-level errors.
// ctest-timeout: 120
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startDevhs } from './lib/devhs.mjs';
import { MatrixClient, MatrixError, timelineOf } from './lib/matrix.mjs';
import { waitFor } from './lib/wait.mjs';

async function rejects(promise, status, errcode) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof MatrixError, `expected a MatrixError, got ${err}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.errcode, errcode, err.message);
    return true;
  });
}

function types(events) {
  return events.map((e) => e.type);
}

describe('devhs', () => {
  let hs;
  before(async () => {
    hs = await startDevhs();
  });
  after(async () => {
    const st = await hs.stop();
    assert.equal(st.code, 0, 'devhs exits 0 on SIGTERM');
  });

  describe('registration and login', () => {
    it('runs user-interactive auth with m.login.dummy', async () => {
      const c = hs.client();
      const first = await c.raw('POST', '/register', { auth: false,
                                                         body: { username: 'reg1', password: 'pw' } });
      assert.equal(first.status, 401);
      assert.deepEqual(first.body.flows, [{ stages: ['m.login.dummy'] }]);
      assert.equal(typeof first.body.session, 'string');
      const r = await c.request('POST', '/register', {
        auth: false,
        body: { username: 'reg1', password: 'pw',
                auth: { type: 'm.login.dummy', session: first.body.session } },
      });
      assert.equal(r.user_id, '@reg1:localhost');
      assert.match(r.access_token, /.{20,}/);
      assert.equal(typeof r.device_id, 'string');
      const who = await new MatrixClient(hs.url, { accessToken: r.access_token }).whoami();
      assert.equal(who.user_id, '@reg1:localhost');
      assert.equal(who.device_id, r.device_id);
    });

    it('rejects taken and invalid user names before auth', async () => {
      const c = hs.client();
      await rejects(c.request('POST', '/register', { auth: false,
                                                     body: { username: 'reg1', password: 'x' } }),
                    400, 'M_USER_IN_USE');
      await rejects(c.request('POST', '/register', { auth: false,
                                                     body: { username: 'bad name!', password: 'x' } }),
                    400, 'M_INVALID_USERNAME');
      const avail = await c.request('GET', '/register/available', { auth: false,
                                                                     query: { username: 'free1' } });
      assert.equal(avail.available, true);
      await rejects(c.request('GET', '/register/available', { auth: false,
                                                              query: { username: 'reg1' } }),
                    400, 'M_USER_IN_USE');
      await rejects(c.request('POST', '/register', {
        auth: false, body: { username: 'x1', auth: { type: 'm.login.password' } },
      }), 400, 'M_UNRECOGNIZED');
    });

    it('generates a user id, honours inhibit_login', async () => {
      const c = hs.client();
      const r = await c.register(undefined, 'pw');
      assert.match(r.user_id, /^@[^:]+:localhost$/);
      const inhibited = hs.client();
      const r2 = await inhibited.register('quiet', 'pw', { inhibitLogin: true });
      assert.equal(r2.user_id, '@quiet:localhost');
      assert.equal(r2.access_token, undefined);
      const logged = await MatrixClient.login(hs.url, 'quiet', 'pw');
      assert.equal(logged.userId, '@quiet:localhost');
    });

    it('logs in with identifier or legacy user, refuses a wrong password', async () => {
      const flows = await hs.client().request('GET', '/login', { auth: false });
      assert.ok(flows.flows.some((f) => f.type === 'm.login.password'));
      await hs.register('logme', 'secret');
      const a = await MatrixClient.login(hs.url, 'logme', 'secret');
      const b = await hs.client().request('POST', '/login', {
        auth: false, body: { type: 'm.login.password', user: '@logme:localhost', password: 'secret' },
      });
      assert.equal(b.user_id, '@logme:localhost');
      assert.notEqual(a.deviceId, b.device_id, 'each login is a new device');
      await rejects(MatrixClient.login(hs.url, 'logme', 'wrong'), 403, 'M_FORBIDDEN');
      await rejects(MatrixClient.login(hs.url, 'nobody', 'secret'), 403, 'M_FORBIDDEN');
      await rejects(hs.client().request('POST', '/login', {
        auth: false, body: { type: 'm.login.token', token: 'x' } }), 400, 'M_UNKNOWN');
    });

    it('checks tokens: header or query, missing, unknown, logged out', async () => {
      const c = await hs.register('tok1');
      await rejects(hs.client().request('GET', '/account/whoami'), 401, 'M_MISSING_TOKEN');
      await rejects(new MatrixClient(hs.url, { accessToken: 'nope' }).whoami(), 401,
                    'M_UNKNOWN_TOKEN');
      const q = await hs.client().request('GET', '/account/whoami',
                                          { query: { access_token: c.accessToken } });
      assert.equal(q.user_id, '@tok1:localhost');
      await c.logout();
      await rejects(c.whoami(), 401, 'M_UNKNOWN_TOKEN');
    });
  });

  describe('rooms and membership', () => {
    let alice, bob, carol;
    let roomId;
    before(async () => {
      alice = await hs.register('alice');
      bob = await hs.register('bob');
      carol = await hs.register('carol');
    });

    it('createRoom emits the events a real server does, with invites', async () => {
      roomId = await alice.createRoom({
        preset: 'private_chat', name: 'Ops', topic: 'calls', invite: [bob.userId],
        is_direct: true, initial_state: [{ type: 'm.room.encryption', state_key: '',
                                          content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
      });
      assert.match(roomId, /^!.+:localhost$/);
      const timeline = await alice.allMessages(roomId);
      assert.deepEqual(types(timeline), [
        'm.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules',
        'm.room.history_visibility', 'm.room.guest_access', 'm.room.encryption', 'm.room.name',
        'm.room.topic', 'm.room.member',
      ]);
      const create = await alice.getState(roomId, 'm.room.create');
      assert.equal(create.room_version, '10');
      assert.equal(create.creator, alice.userId);
      assert.equal((await alice.getState(roomId, 'm.room.join_rules')).join_rule, 'invite');
      assert.equal((await alice.getState(roomId, 'm.room.history_visibility')).history_visibility,
                   'shared');
      const pl = await alice.getState(roomId, 'm.room.power_levels');
      assert.equal(pl.users[alice.userId], 100);
      assert.equal(pl.invite, 0);
      assert.equal(pl.state_default, 50);
      assert.equal((await alice.getState(roomId, 'm.room.name')).name, 'Ops');
      const inv = await alice.getState(roomId, 'm.room.member', bob.userId);
      assert.equal(inv.membership, 'invite');
      assert.equal(inv.is_direct, true);
      await rejects(alice.getState(roomId, 'm.room.avatar'), 404, 'M_NOT_FOUND');
    });

    it('shows the invite to the invitee with stripped state', async () => {
      const batch = await bob.sync();
      const invite = batch.rooms.invite[roomId];
      assert.ok(invite, 'room under rooms.invite');
      const ev = invite.invite_state.events;
      for (const t of ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.encryption']) {
        assert.ok(ev.some((e) => e.type === t), `invite_state has ${t}`);
      }
      const me = ev.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId);
      assert.equal(me.content.membership, 'invite');
      assert.equal(me.sender, alice.userId);
      assert.equal(batch.rooms.join[roomId], undefined);
    });

    it('enforces membership rules', async () => {
      await rejects(carol.join(roomId), 403, 'M_FORBIDDEN'); // invite-only
      await rejects(carol.sendText(roomId, 'hi'), 403, 'M_FORBIDDEN'); // not joined
      await rejects(bob.sendText(roomId, 'hi'), 403, 'M_FORBIDDEN'); // invited, not joined
      await rejects(alice.sendText('!nope:localhost', 'x'), 404, 'M_NOT_FOUND');
      await rejects(carol.join('!nope:localhost'), 404, 'M_NOT_FOUND');
      assert.equal(await bob.join(roomId), roomId);
      await bob.sendText(roomId, 'hello');
      // state needs the power level: m.room.name is 50, bob has 0
      await rejects(bob.sendState(roomId, 'm.room.name', '', { name: 'x' }), 403, 'M_FORBIDDEN');
      await rejects(bob.sendState(roomId, 'm.room.power_levels', '',
                                  { users: { [bob.userId]: 100 } }), 403, 'M_FORBIDDEN');
      await rejects(bob.kick(roomId, alice.userId), 403, 'M_FORBIDDEN');
      await rejects(alice.invite(roomId, bob.userId), 403, 'M_FORBIDDEN'); // already joined
      await rejects(alice.sendState(roomId, 'm.room.power_levels', '', { users: 'x' }), 400,
                    'M_BAD_JSON');
      // alice raises bob to 50: now he may name the room
      const pl = await alice.getState(roomId, 'm.room.power_levels');
      pl.users[bob.userId] = 50;
      await alice.sendState(roomId, 'm.room.power_levels', '', pl);
      await bob.sendState(roomId, 'm.room.name', '', { name: 'Ops 2' });
      const joined = await alice.request('GET', `/rooms/${encodeURIComponent(roomId)}/joined_members`);
      assert.deepEqual(Object.keys(joined.joined).sort(), [alice.userId, bob.userId].sort());
    });

    it('kicks, bans, unbans and forgets', async () => {
      await alice.invite(roomId, carol.userId);
      await carol.join(roomId);
      assert.ok((await carol.joinedRooms()).includes(roomId));
      carol.since = (await carol.sync()).next_batch;
      await alice.kick(roomId, carol.userId, 'bye');
      const left = await carol.syncUntil((b) => b.rooms.leave[roomId]);
      const kick = left.timeline.events.at(-1);
      assert.equal(kick.type, 'm.room.member');
      assert.equal(kick.content.membership, 'leave');
      assert.equal(kick.sender, alice.userId);
      const again = await carol.syncNext();
      assert.equal(again.rooms.leave[roomId], undefined, 'a left room appears once');
      await rejects(carol.sendText(roomId, 'x'), 403, 'M_FORBIDDEN');
      await alice.ban(roomId, carol.userId);
      await rejects(carol.join(roomId), 403, 'M_FORBIDDEN');
      await alice.unban(roomId, carol.userId);
      assert.equal((await alice.getState(roomId, 'm.room.member', carol.userId)).membership,
                   'leave');
      await rejects(alice.forget(roomId), 400, 'M_UNKNOWN'); // still joined
      await carol.forget(roomId);
      const fresh = await carol.sync();
      assert.equal(fresh.rooms.leave[roomId], undefined);
    });

    it('public rooms with an alias are joinable by anyone', async () => {
      const pub = await alice.createRoom({ preset: 'public_chat', room_alias_name: 'lobby' });
      const dir = await carol.request('GET', `/directory/room/${encodeURIComponent('#lobby:localhost')}`);
      assert.equal(dir.room_id, pub);
      assert.equal(await carol.join('#lobby:localhost'), pub);
      assert.equal((await alice.getState(pub, 'm.room.join_rules')).join_rule, 'public');
      assert.equal((await alice.getState(pub, 'm.room.canonical_alias')).alias, '#lobby:localhost');
      await rejects(alice.createRoom({ room_alias_name: 'lobby' }), 400, 'M_ROOM_IN_USE');
      await rejects(alice.createRoom({ room_version: '99' }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
      await rejects(alice.createRoom({ invite: ['not-a-user'] }), 400, 'M_INVALID_PARAM');
      await rejects(alice.createRoom({ name: 5 }), 400, 'M_BAD_JSON');
    });
  });

  describe('sending and syncing', () => {
    let alice, bob, roomId;
    before(async () => {
      alice = await hs.register('sally');
      bob = await hs.register('sam');
      roomId = await alice.createRoom({ invite: [bob.userId] });
      await bob.join(roomId);
    });

    it('sends are idempotent per token and transaction id', async () => {
      const id1 = await alice.sendText(roomId, 'once', 'txn-1');
      const id2 = await alice.sendText(roomId, 'once', 'txn-1');
      assert.equal(id1, id2);
      const other = await MatrixClient.login(hs.url, 'sally', 'sally-password');
      const id3 = await other.sendText(roomId, 'once', 'txn-1'); // another token: a new event
      assert.notEqual(id3, id1);
      const msgs = (await alice.allMessages(roomId)).filter((e) => e.content.body === 'once');
      assert.equal(msgs.length, 2);
      // transaction_id only for the sender's own token
      const mine = (await alice.sync()).rooms.join[roomId].timeline.events;
      assert.equal(mine.find((e) => e.event_id === id1).unsigned.transaction_id, 'txn-1');
      assert.equal(mine.find((e) => e.event_id === id3).unsigned.transaction_id, undefined);
      const theirs = (await bob.sync()).rooms.join[roomId].timeline.events;
      assert.equal(theirs.find((e) => e.event_id === id1).unsigned.transaction_id, undefined);
      const ev = await bob.getEvent(roomId, id1);
      assert.equal(ev.room_id, roomId);
      assert.equal(ev.content.body, 'once');
      assert.equal(typeof ev.unsigned.age, 'number');
    });

    it('long-poll wakes on a new event well before its timeout', async () => {
      const since = (await bob.sync()).next_batch;
      const waitingBefore = (await hs.status()).waiting_syncs;
      const t0 = Date.now();
      const poll = bob.sync({ since, timeout: 20000 });
      await waitFor(async () => (await hs.status()).waiting_syncs > waitingBefore, 5000,
                    { message: 'the /sync to be parked' });
      const eventId = await alice.sendText(roomId, 'wake up');
      const batch = await poll;
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 10000, `woke after ${elapsed} ms`);
      const tl = timelineOf(batch, roomId);
      assert.deepEqual(tl.map((e) => e.event_id), [eventId]);
      assert.equal(batch.rooms.join[roomId].timeline.limited, false);
      assert.deepEqual(batch.rooms.join[roomId].state.events, []);
      assert.notEqual(batch.next_batch, since);
    });

    it('long-poll returns an empty batch after its timeout', async () => {
      const since = (await bob.sync()).next_batch;
      const t0 = Date.now();
      const batch = await bob.sync({ since, timeout: 400 });
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 350, `returned after ${elapsed} ms`);
      assert.deepEqual(batch.rooms.join, {});
      assert.equal(typeof batch.next_batch, 'string');
      assert.deepEqual(batch.to_device, { events: [] });
      assert.deepEqual(batch.device_lists, { changed: [], left: [] });
    });

    it('initial sync: state plus the last events; incremental: only what is new', async () => {
      const initial = await bob.sync({ filter: { room: { timeline: { limit: 3 } } } });
      const room = initial.rooms.join[roomId];
      assert.equal(room.timeline.events.length, 3);
      assert.equal(room.timeline.limited, true);
      assert.match(room.timeline.prev_batch, /^s\d+$/);
      const st = types(room.state.events);
      for (const t of ['m.room.create', 'm.room.power_levels', 'm.room.join_rules']) {
        assert.ok(st.includes(t), `initial state has ${t}`);
      }
      assert.equal(room.summary['m.joined_member_count'], 2);
      assert.deepEqual(room.summary['m.heroes'], [alice.userId]);
      assert.ok(room.ephemeral && room.account_data && room.unread_notifications);
      // a gap larger than the limit: limited, and the state change in the gap is in `state`
      const since = initial.next_batch;
      await alice.sendState(roomId, 'm.room.topic', '', { topic: 'in the gap' });
      for (let i = 0; i < 5; i++) await alice.sendText(roomId, `gap ${i}`);
      const inc = await bob.sync({ since, filter: { room: { timeline: { limit: 3 } } } });
      const r = inc.rooms.join[roomId];
      assert.equal(r.timeline.limited, true);
      assert.deepEqual(r.timeline.events.map((e) => e.content.body), ['gap 2', 'gap 3', 'gap 4']);
      assert.deepEqual(types(r.state.events), ['m.room.topic']);
      // paging back from prev_batch fills the gap exactly
      const back = await bob.messages(roomId, { from: r.timeline.prev_batch, dir: 'b', limit: 3 });
      assert.deepEqual(back.chunk.map((e) => e.content.body ?? e.type),
                       ['gap 1', 'gap 0', 'm.room.topic']);
      // ... and stops at the token the sync answered (`to`, as the gateway's gap fetch asks),
      // leaving `end` out: nothing of the gap remains
      const gap = await bob.messages(roomId, { from: r.timeline.prev_batch, to: since, dir: 'b',
                                               limit: 50, filter: JSON.stringify({ limit: 100 }) });
      assert.deepEqual(gap.chunk.map((e) => e.content.body ?? e.type),
                       ['gap 1', 'gap 0', 'm.room.topic']);
      assert.equal(gap.end, undefined);
      // a state change inside the window is in the timeline, not in state
      const since2 = inc.next_batch;
      await alice.sendState(roomId, 'm.room.topic', '', { topic: 'in the window' });
      const inc2 = await bob.sync({ since: since2 });
      assert.deepEqual(types(timelineOf(inc2, roomId)), ['m.room.topic']);
      assert.equal(timelineOf(inc2, roomId)[0].unsigned.prev_content.topic, 'in the gap');
      assert.deepEqual(inc2.rooms.join[roomId].state.events, []);
    });

    it('typing and receipts arrive as ephemeral events', async () => {
      const since = (await bob.sync()).next_batch;
      await alice.request('PUT', `/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`,
                          { body: { typing: true, timeout: 30000 } });
      const batch = await bob.sync({ since, timeout: 5000 });
      const typing = batch.rooms.join[roomId].ephemeral.events.find((e) => e.type === 'm.typing');
      assert.deepEqual(typing.content.user_ids, [alice.userId]);
      const last = timelineOf(await bob.sync(), roomId).at(-1);
      await bob.request('POST', `/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(last.event_id)}`,
                        { body: {} });
      const seen = await alice.syncUntil((b) => b.rooms.join[roomId]?.ephemeral.events
        .find((e) => e.type === 'm.receipt'));
      assert.ok(seen.content[last.event_id]['m.read'][bob.userId].ts > 0);
    });

    it('account data shows up in sync', async () => {
      alice.since = (await alice.sync()).next_batch;
      await alice.setAccountData('org.example.test', { n: 1 });
      const ad = await alice.syncUntil((b) => b.account_data.events
        .find((e) => e.type === 'org.example.test'));
      assert.deepEqual(ad.content, { n: 1 });
      assert.deepEqual(await alice.request('GET',
        `/user/${encodeURIComponent(alice.userId)}/account_data/org.example.test`), { n: 1 });
      await rejects(bob.request('GET',
        `/user/${encodeURIComponent(alice.userId)}/account_data/org.example.test`), 403,
      'M_FORBIDDEN');
    });
  });

  describe('filters', () => {
    let alice, roomId;
    before(async () => {
      alice = await hs.register('filterer');
      roomId = await alice.createRoom({ name: 'filtered' });
      for (let i = 0; i < 4; i++) await alice.sendText(roomId, `m${i}`);
      await alice.send(roomId, 'org.example.other', { x: 1 });
    });

    it('uploads and reads back a filter', async () => {
      const def = { room: { timeline: { limit: 2, types: ['m.room.message'] } } };
      const id = await alice.uploadFilter(def);
      assert.equal(typeof id, 'string');
      const got = await alice.request('GET',
        `/user/${encodeURIComponent(alice.userId)}/filter/${id}`);
      assert.deepEqual(got, def);
      const batch = await alice.sync({ filter: id });
      const tl = timelineOf(batch, roomId);
      assert.deepEqual(tl.map((e) => e.content.body), ['m2', 'm3']);
      assert.equal(batch.rooms.join[roomId].timeline.limited, true);
      await rejects(alice.request('GET', `/user/${encodeURIComponent(alice.userId)}/filter/999`),
                    404, 'M_NOT_FOUND');
      await rejects(alice.request('POST', `/user/${encodeURIComponent('@other:localhost')}/filter`,
                                  { body: {} }), 403, 'M_FORBIDDEN');
      await rejects(alice.uploadFilter({ room: { timeline: { limit: 'ten' } } }), 400,
                    'M_BAD_JSON');
    });

    it('applies inline filters: not_types, wildcards, rooms, state types', async () => {
      const b1 = await alice.sync({ filter: { room: { timeline: { not_types: ['m.room.message'] } } } });
      assert.ok(!types(timelineOf(b1, roomId)).includes('m.room.message'));
      assert.ok(types(timelineOf(b1, roomId)).includes('org.example.other'));
      const b2 = await alice.sync({ filter: { room: { timeline: { types: ['org.example.*'] } } } });
      assert.deepEqual(types(timelineOf(b2, roomId)), ['org.example.other']);
      const b3 = await alice.sync({ filter: { room: { rooms: ['!other:localhost'] } } });
      assert.deepEqual(b3.rooms.join, {});
      const b4 = await alice.sync({ filter: { room: { state: { types: ['m.room.create'],
                                                                lazy_load_members: true },
                                                       timeline: { limit: 0 } } } });
      assert.deepEqual(types(b4.rooms.join[roomId].state.events), ['m.room.create']);
      await rejects(alice.sync({ filter: '{not json' }), 400, 'M_NOT_JSON');
    });
  });

  describe('history pagination', () => {
    let alice, roomId, sent;
    before(async () => {
      alice = await hs.register('pager');
      roomId = await alice.createRoom({});
      sent = [];
      for (let i = 0; i < 25; i++) sent.push(await alice.sendText(roomId, `p${i}`));
    });

    it('pages backwards to the start and forwards to the end', async () => {
      const onlyMsgs = JSON.stringify({ types: ['m.room.message'] });
      const pages = [];
      let from;
      for (;;) {
        const page = await alice.messages(roomId, { from, dir: 'b', limit: 10, filter: onlyMsgs });
        pages.push(page.chunk.map((e) => e.event_id));
        if (!page.end) break;
        from = page.end;
      }
      assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
      assert.deepEqual(pages.flat().reverse(), sent);
      // forwards from the start token, in pages of 7
      const fwd = [];
      let f = 's0';
      for (;;) {
        const page = await alice.messages(roomId, { from: f, dir: 'f', limit: 7, filter: onlyMsgs });
        fwd.push(...page.chunk.map((e) => e.event_id));
        assert.ok(page.chunk.length <= 7);
        if (!page.end) break;
        f = page.end;
      }
      assert.deepEqual(fwd, sent);
      // `to` bounds a page
      const mid = await alice.messages(roomId, { dir: 'b', limit: 100, filter: onlyMsgs });
      assert.equal(mid.chunk.length, 25);
      assert.equal(mid.end, undefined, 'no end token at the start of the room');
      await rejects(alice.messages(roomId, { from: 'garbage' }), 400, 'M_INVALID_PARAM');
      const stranger = await hs.register('stranger');
      await rejects(stranger.messages(roomId), 403, 'M_FORBIDDEN');
    });
  });

  describe('test controls', () => {
    let alice, roomId;
    before(async () => {
      alice = await hs.register('limited');
      roomId = await alice.createRoom({});
    });

    it('rate limits sends with 429 M_LIMIT_EXCEEDED and retry_after_ms', async () => {
      await hs.rateLimit(alice.userId, 1, 2);
      // a burst of 2, then 1/s: sending as fast as we can hits the limit within a few sends
      // (more than 3 only if the machine is so slow that tokens refill in between)
      let limited;
      let ok = 0;
      for (let i = 0; i < 10 && !limited; i++) {
        try {
          await alice.sendText(roomId, `burst ${i}`);
          ok += 1;
        } catch (err) {
          limited = err;
        }
      }
      assert.ok(ok >= 2, `the burst went through (${ok})`);
      assert.ok(limited instanceof MatrixError, 'a send beyond the rate is refused');
      assert.equal(limited.status, 429);
      assert.equal(limited.errcode, 'M_LIMIT_EXCEEDED');
      assert.ok(limited.retryAfterMs > 0 && limited.retryAfterMs <= 1000, `${limited.retryAfterMs}`);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      // after the advertised wait a send goes through again
      const id = await waitFor(() => alice.sendText(roomId, 'c'), 5000);
      assert.match(id, /^\$/);
      // state puts share the bucket (a slow one here, so nothing refills during the check)
      await hs.rateLimit(alice.userId, 0.01, 1);
      await alice.sendText(roomId, 'the only token');
      await rejects(alice.sendState(roomId, 'org.example.s', '', {}), 429, 'M_LIMIT_EXCEEDED');
      await hs.rateLimit(alice.userId, 0);
      for (let i = 0; i < 5; i++) await alice.sendText(roomId, `free ${i}`);
    });

    it('injects 500s and dropped connections, and they end', async () => {
      await hs.fault('http_500');
      await rejects(alice.whoami(), 500, 'M_UNKNOWN');
      assert.equal((await hs.status()).fault, 'http_500', 'test controls are not affected');
      await hs.fault('none');
      assert.equal((await alice.whoami()).user_id, alice.userId);

      await hs.fault('close');
      await assert.rejects(alice.whoami(), (err) => !(err instanceof MatrixError));
      await hs.fault('none');

      await hs.fault('http_500', 1000);
      await rejects(alice.whoami(), 500, 'M_UNKNOWN');
      await waitFor(async () => (await alice.whoami()).user_id, 5000,
                    { message: 'the timed fault to end' });

      // handled, then the connection drops: the retry with the same txn id finds the event
      await hs.fault('close_after', 0, { count: 1, match: '/send/' });
      await assert.rejects(alice.sendText(roomId, 'lost answer', 'txn-lost'),
                           (err) => !(err instanceof MatrixError));
      const id = await alice.sendText(roomId, 'lost answer', 'txn-lost');
      const copies = (await alice.allMessages(roomId)).filter((e) => e.content.body === 'lost answer');
      assert.deepEqual(copies.map((e) => e.event_id), [id]);

      await hs.fault('http_500', 0, { count: 1, match: '/whoami' });
      await alice.joinedRooms(); // other paths are untouched
      await rejects(alice.whoami(), 500, 'M_UNKNOWN');
      assert.equal((await alice.whoami()).user_id, alice.userId, 'count: only one hit');
    });
  });

  describe('more of the Client-Server API', () => {
    let alice, bob, roomId;
    const enc = encodeURIComponent;
    before(async () => {
      alice = await hs.register('morea');
      bob = await hs.register('moreb');
      roomId = await alice.createRoom({ invite: [bob.userId] });
      await bob.join(roomId);
    });

    it('releases a parked /sync with 401 when its token logs out', async () => {
      const extra = await MatrixClient.login(hs.url, 'moreb', 'moreb-password');
      const since = (await extra.sync()).next_batch;
      const waiting = (await hs.status()).waiting_syncs;
      const t0 = Date.now();
      const poll = rejects(extra.sync({ since, timeout: 20000 }), 401, 'M_UNKNOWN_TOKEN');
      await waitFor(async () => (await hs.status()).waiting_syncs > waiting, 5000);
      await new MatrixClient(hs.url, { accessToken: extra.accessToken }).logout();
      await poll;
      assert.ok(Date.now() - t0 < 10000);
    });

    it('copies a display name change into the member events', async () => {
      const since = (await bob.sync()).next_batch;
      await alice.request('PUT', `/profile/${enc(alice.userId)}/displayname`,
                          { body: { displayname: 'Alice Example' } });
      const batch = await bob.sync({ since, timeout: 5000 });
      const ev = timelineOf(batch, roomId).find((e) => e.type === 'm.room.member');
      assert.equal(ev.state_key, alice.userId);
      assert.equal(ev.content.displayname, 'Alice Example');
      assert.equal(ev.content.membership, 'join');
      assert.equal(ev.unsigned.prev_content.displayname, 'morea');
      const prof = await bob.request('GET', `/profile/${enc(alice.userId)}/displayname`);
      assert.deepEqual(prof, { displayname: 'Alice Example' });
      await rejects(bob.request('PUT', `/profile/${enc(alice.userId)}/displayname`,
                                { body: { displayname: 'x' } }), 403, 'M_FORBIDDEN');
      await rejects(bob.request('GET', `/profile/${enc('@ghost:localhost')}`), 404, 'M_NOT_FOUND');
    });

    it('deduplicates identical state, redacts, serves /context', async () => {
      const s1 = await alice.sendState(roomId, 'org.example.state', 'k', { v: 1 });
      const s2 = await alice.sendState(roomId, 'org.example.state', 'k', { v: 1 });
      assert.equal(s1, s2);
      const e1 = await bob.sendText(roomId, 'oops');
      const e2 = await bob.sendText(roomId, 'after');
      const red = (await bob.request('PUT', `/rooms/${enc(roomId)}/redact/${enc(e1)}/r1`,
                                     { body: { reason: 'typo' } })).event_id;
      const got = await alice.getEvent(roomId, e1);
      assert.deepEqual(got.content, {});
      assert.equal(got.unsigned.redacted_because.event_id, red);
      await rejects(bob.request('PUT', `/rooms/${enc(roomId)}/redact/${enc(s1)}/r2`, { body: {} }),
                    403, 'M_FORBIDDEN'); // someone else's event needs the redact level
      const ctx = await alice.request('GET', `/rooms/${enc(roomId)}/context/${enc(e2)}`,
                                      { query: { limit: 2 } });
      assert.equal(ctx.event.event_id, e2);
      assert.deepEqual(ctx.events_before.map((e) => e.event_id), [e1]);
      assert.deepEqual(ctx.events_after.map((e) => e.event_id), [red]);
      assert.ok(ctx.state.some((e) => e.type === 'm.room.create'));
      const fwd = await alice.messages(roomId, { from: ctx.end, dir: 'f' });
      assert.deepEqual(fwd.chunk, []);
    });

    it('delivers to-device messages once', async () => {
      bob.since = (await bob.sync()).next_batch;
      const body = { messages: { [bob.userId]: { [bob.deviceId]: { hello: 'device' } } } };
      await alice.request('PUT', '/sendToDevice/org.example.ping/td1', { body });
      await alice.request('PUT', '/sendToDevice/org.example.ping/td1', { body }); // retry
      const td = await bob.syncUntil((b) => b.to_device.events.length && b.to_device.events);
      assert.equal(td.length, 1);
      assert.deepEqual(td[0], { type: 'org.example.ping', sender: alice.userId,
                                content: { hello: 'device' } });
      const next = await bob.syncNext();
      assert.deepEqual(next.to_device.events, [], 'acknowledged by the next sync');
    });

    it('hides history from later joiners when history_visibility is joined', async () => {
      const carol = await hs.register('morec');
      const room = await alice.createRoom({ preset: 'public_chat' });
      await alice.sendState(room, 'm.room.history_visibility', '', { history_visibility: 'joined' });
      await alice.sendText(room, 'secret');
      await carol.join(room);
      await alice.sendText(room, 'public');
      const bodies = (await carol.allMessages(room)).map((e) => e.content.body).filter(Boolean);
      assert.deepEqual(bodies, ['public']);
      const tl = timelineOf(await carol.sync(), room).map((e) => e.content.body).filter(Boolean);
      assert.deepEqual(tl, ['public']);
      const all = (await alice.allMessages(room)).map((e) => e.content.body).filter(Boolean);
      assert.deepEqual(all, ['secret', 'public']);
    });

    it('lists left rooms in an initial sync only with include_leave', async () => {
      const room = await alice.createRoom({ invite: [bob.userId] });
      await bob.join(room);
      await bob.leave(room);
      assert.equal((await bob.sync()).rooms.leave[room], undefined);
      const withLeave = await bob.sync({ filter: { room: { include_leave: true } } });
      const left = withLeave.rooms.leave[room];
      assert.equal(left.timeline.events.at(-1).content.membership, 'leave');
      assert.ok(!(await bob.joinedRooms()).includes(room));
      // a rejected invite shows up once, too
      const room2 = await alice.createRoom({ invite: [bob.userId] });
      bob.since = (await bob.sync()).next_batch;
      await bob.leave(room2);
      const b = await bob.syncNext();
      assert.equal(b.rooms.leave[room2].timeline.events.at(-1).content.membership, 'leave');
    });

    it('presence, read markers, typing expiry, member queries, full_state', async () => {
      bob.since = (await bob.sync()).next_batch;
      await alice.request('PUT', `/presence/${enc(alice.userId)}/status`,
                          { body: { presence: 'unavailable', status_msg: 'in a call' } });
      const p = await bob.syncUntil((b) => b.presence.events.find((e) => e.sender === alice.userId));
      assert.equal(p.content.presence, 'unavailable');
      assert.equal(p.content.status_msg, 'in a call');
      const got = await bob.request('GET', `/presence/${enc(alice.userId)}/status`);
      assert.equal(got.presence, 'unavailable');
      await rejects(bob.request('PUT', `/presence/${enc(alice.userId)}/status`,
                                { body: { presence: 'online' } }), 403, 'M_FORBIDDEN');

      const last = await alice.sendText(roomId, 'mark me');
      bob.since = (await bob.sync()).next_batch;
      await bob.request('POST', `/rooms/${enc(roomId)}/read_markers`,
                        { body: { 'm.fully_read': last, 'm.read': last } });
      const fr = await bob.syncUntil((b) => b.rooms.join[roomId]?.account_data.events
        .find((e) => e.type === 'm.fully_read'));
      assert.equal(fr.content.event_id, last);

      await alice.request('PUT', `/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`,
                          { body: { typing: true, timeout: 1000 } });
      await bob.syncUntil((b) => b.rooms.join[roomId]?.ephemeral.events
        .find((e) => e.type === 'm.typing' && e.content.user_ids.includes(alice.userId)));
      const stopped = await bob.syncUntil((b) => b.rooms.join[roomId]?.ephemeral.events
        .find((e) => e.type === 'm.typing'), { timeoutMs: 5000 });
      assert.deepEqual(stopped.content.user_ids, [], 'typing expires by itself');

      const joined = await bob.members(roomId, { membership: 'join' });
      assert.deepEqual(joined.map((e) => e.state_key).sort(), [alice.userId, bob.userId].sort());
      const notJoined = await bob.members(roomId, { not_membership: 'join' });
      assert.ok(notJoined.every((e) => e.content.membership !== 'join'));

      const since = (await bob.sync()).next_batch;
      const full = await bob.sync({ since, fullState: true });
      assert.ok(types(full.rooms.join[roomId].state.events).includes('m.room.create'));
      assert.deepEqual(full.rooms.join[roomId].timeline.events, []);
    });
  });

  describe('end-to-end encryption keys', () => {
    it('stores and hands out device, one-time and fallback keys', async () => {
      const alice = await hs.register('keysa');
      const bob = await hs.register('keysb');
      const room = await alice.createRoom({ invite: [bob.userId] });
      await bob.join(room);
      alice.since = (await alice.sync()).next_batch;
      const deviceKeys = {
        user_id: bob.userId, device_id: bob.deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
        keys: { [`curve25519:${bob.deviceId}`]: 'c-key', [`ed25519:${bob.deviceId}`]: 'e-key' },
        signatures: { [bob.userId]: { [`ed25519:${bob.deviceId}`]: 'sig' } },
      };
      const up = await bob.request('POST', '/keys/upload', { body: {
        device_keys: deviceKeys,
        one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'otk1' },
                         'signed_curve25519:AAAAAg': { key: 'otk2' } },
        fallback_keys: { 'signed_curve25519:AAAAAw': { key: 'fb', fallback: true } },
      } });
      assert.equal(up.one_time_key_counts.signed_curve25519, 2);
      await rejects(bob.request('POST', '/keys/upload', { body: {
        device_keys: { ...deviceKeys, device_id: 'OTHER' } } }), 400, 'M_INVALID_PARAM');
      // alice is told bob's devices changed, then queries and claims
      const changed = await alice.syncUntil((b) => b.device_lists.changed.includes(bob.userId));
      assert.ok(changed);
      const q = await alice.request('POST', '/keys/query',
                                    { body: { device_keys: { [bob.userId]: [] } } });
      assert.deepEqual(q.device_keys[bob.userId][bob.deviceId].keys, deviceKeys.keys);
      const claim = async () => (await alice.request('POST', '/keys/claim', { body: {
        one_time_keys: { [bob.userId]: { [bob.deviceId]: 'signed_curve25519' } } } }))
        .one_time_keys[bob.userId][bob.deviceId];
      const k1 = await claim();
      const k2 = await claim();
      const k3 = await claim(); // one-time keys used up: the fallback key
      assert.deepEqual([k1, k2, k3].map((k) => Object.values(k)[0].key).sort(),
                       ['fb', 'otk1', 'otk2']);
      const bobSync = await bob.sync();
      assert.equal(bobSync.device_one_time_keys_count.signed_curve25519, 0);
      assert.deepEqual(bobSync.device_unused_fallback_key_types, []);
      const ch = await alice.request('GET', '/keys/changes', { query: { from: 's0' } });
      assert.ok(ch.changed.includes(bob.userId));
      await rejects(alice.request('GET', '/room_keys/version'), 404, 'M_NOT_FOUND');
    });
  });

  describe('HTTP-level errors', () => {
    let alice;
    before(async () => {
      alice = await hs.register('errors');
    });

    it('404 / 405 M_UNRECOGNIZED, 400 M_NOT_JSON / M_BAD_JSON, 413 M_TOO_LARGE', async () => {
      let r = await alice.raw('GET', '/no/such/endpoint');
      assert.equal(r.status, 404);
      assert.equal(r.body.errcode, 'M_UNRECOGNIZED');
      r = await alice.raw('GET', '/createRoom');
      assert.equal(r.status, 405);
      assert.equal(r.body.errcode, 'M_UNRECOGNIZED');
      r = await alice.raw('POST', '/createRoom', { rawBody: '{"name": ',
                                                   headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 400);
      assert.equal(r.body.errcode, 'M_NOT_JSON');
      r = await alice.raw('POST', '/createRoom', { body: [1, 2] });
      assert.equal(r.status, 400);
      assert.equal(r.body.errcode, 'M_BAD_JSON');
      const roomId = await alice.createRoom({});
      const big = { msgtype: 'm.text', body: 'x'.repeat(1100 * 1024) };
      r = await alice.raw('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/big1`,
                          { body: big });
      assert.equal(r.status, 413);
      assert.equal(r.body.errcode, 'M_TOO_LARGE');
      const large = { msgtype: 'm.text', body: 'x'.repeat(70 * 1024) };
      r = await alice.raw('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/big2`,
                          { body: large });
      assert.equal(r.status, 413, 'events over 64 KiB are refused like on a real server');
      assert.equal(r.body.errcode, 'M_TOO_LARGE');
      const deep = `{"a":${'['.repeat(3000)}${']'.repeat(3000)}}`;
      r = await alice.raw('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/deep`,
                          { rawBody: deep });
      assert.equal(r.status, 400);
      assert.equal(r.body.errcode, 'M_NOT_JSON');
      r = await alice.raw('GET', '/sync', { query: { filter: '['.repeat(5000) } });
      assert.equal(r.status, 400, 'an absurd inline filter is refused, not fatal');
      r = await alice.raw('PUT', `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/f1`,
                          { body: { msgtype: 'm.text', body: 'x', n: 1.5 } });
      assert.equal(r.status, 400, 'room versions 6+ take canonical JSON only');
      assert.equal(r.body.errcode, 'M_BAD_JSON');
      assert.equal((await alice.whoami()).user_id, alice.userId, 'still serving');
    });

    it('answers CORS preflights and carries CORS headers', async () => {
      const res = await fetch(`${hs.url}/_matrix/client/v3/sync`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://127.0.0.1:1', 'Access-Control-Request-Method': 'GET',
                   'Access-Control-Request-Headers': 'authorization' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
      assert.match(res.headers.get('access-control-allow-headers'), /Content-Type/);
      const v = await fetch(`${hs.url}/_matrix/client/versions`);
      assert.equal(v.headers.get('access-control-allow-origin'), '*');
      const versions = await v.json();
      assert.ok(versions.versions.includes('v1.1') && versions.versions.includes('v1.11'));
      assert.deepEqual(versions.unstable_features, {});
      const wk = await (await fetch(`${hs.url}/.well-known/matrix/client`)).json();
      assert.equal(wk['m.homeserver'].base_url, hs.url);
    });

    it('serves what matrix-js-sdk reads at start-up', async () => {
      const rules = await alice.request('GET', '/pushrules/');
      for (const kind of ['override', 'content', 'room', 'sender', 'underride']) {
        assert.ok(Array.isArray(rules.global[kind]), `push rules have ${kind}`);
      }
      assert.ok(rules.global.underride.some((r) => r.rule_id === '.m.rule.call'));
      const caps = await alice.request('GET', '/capabilities');
      assert.equal(caps.capabilities['m.room_versions'].default, '10');
      assert.deepEqual(await alice.turnServer(), {}, 'no TURN configured: {} like Synapse');
      assert.ok((await alice.request('GET', '/config', { prefix: '/_matrix/media/v3' }))['m.upload.size'] > 0);
      assert.ok((await alice.request('GET', '/media/config', { prefix: '/_matrix/client/v1' }))['m.upload.size'] > 0);
      assert.deepEqual(await alice.request('GET', '/thirdparty/protocols'), {});
      const dir = await alice.request('POST', '/user_directory/search', { body: { search_term: 'errors' } });
      assert.deepEqual(dir.results.map((u) => u.user_id), [alice.userId]);
      assert.deepEqual(await alice.request('GET', `/profile/${encodeURIComponent(alice.userId)}`),
                       { displayname: 'errors' });
    });
  });
});

describe('devhs TURN credentials', () => {
  it('hands out coturn REST credentials', async () => {
    const hs = await startDevhs({ args: ['--turn-uri', 'turn:127.0.0.1:3478?transport=udp',
                                         '--turn-uri', 'turn:127.0.0.1:3478?transport=tcp',
                                         '--turn-secret', 's3cret', '--turn-ttl', '600'] });
    try {
      const c = await hs.register('turnuser');
      const t = await c.turnServer();
      assert.deepEqual(t.uris, ['turn:127.0.0.1:3478?transport=udp',
                                'turn:127.0.0.1:3478?transport=tcp']);
      assert.equal(t.ttl, 600);
      const [expiry, user] = t.username.split(/:(.*)/s);
      assert.equal(user, c.userId);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(Number(expiry) >= now + 590 && Number(expiry) <= now + 610, t.username);
      const expect = createHmac('sha1', 's3cret').update(t.username).digest('base64');
      assert.equal(t.password, expect);
    } finally {
      await hs.stop();
    }
  });
});

describe('devhs state file', () => {
  let dir;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devhs-state-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps users, tokens, rooms, events and the stream across a restart', async () => {
    const stateFile = path.join(dir, 'state.json');
    let hs = await startDevhs({ stateFile });
    const alice = await hs.register('keeper');
    const bob = await hs.register('keeper2');
    const roomId = await alice.createRoom({ name: 'kept', invite: [bob.userId] });
    await bob.join(roomId);
    const e1 = await alice.sendText(roomId, 'before restart', 'txn-keep');
    await alice.setAccountData('org.example.kept', { v: 1 });
    const filterId = await bob.uploadFilter({ room: { timeline: { limit: 5 } } });
    bob.since = (await bob.sync({ filter: filterId })).next_batch;
    const oldToken = bob.since;
    const st = await hs.stop();
    assert.equal(st.code, 0);
    assert.ok(existsSync(stateFile));
    assert.equal(statSync(stateFile).mode & 0o077, 0, 'the state file is private (it holds tokens)');

    hs = await startDevhs({ stateFile });
    try {
      alice.baseUrl = hs.url;
      bob.baseUrl = hs.url;
      assert.equal((await alice.whoami()).user_id, alice.userId, 'tokens survive');
      assert.equal((await bob.whoami()).device_id, bob.deviceId);
      assert.equal((await alice.getState(roomId, 'm.room.name')).name, 'kept');
      const msgs = await alice.allMessages(roomId);
      assert.ok(msgs.some((e) => e.event_id === e1 && e.content.body === 'before restart'));
      // the retry of a send made before the restart is still recognised
      assert.equal(await alice.sendText(roomId, 'before restart', 'txn-keep'), e1);
      assert.deepEqual(await alice.request('GET',
        `/user/${encodeURIComponent(alice.userId)}/account_data/org.example.kept`), { v: 1 });
      assert.deepEqual(await bob.request('GET',
        `/user/${encodeURIComponent(bob.userId)}/filter/${filterId}`),
      { room: { timeline: { limit: 5 } } });
      // sync from the pre-restart token continues with exactly what is new
      const quiet = await bob.sync({ since: oldToken, timeout: 0 });
      assert.deepEqual(quiet.rooms.join, {});
      const e2 = await alice.sendText(roomId, 'after restart');
      const batch = await bob.sync({ since: oldToken, timeout: 5000 });
      assert.deepEqual(timelineOf(batch, roomId).map((e) => e.event_id), [e2]);
      // logins still work, the password survived as a hash
      await MatrixClient.login(hs.url, 'keeper', 'keeper-password');
    } finally {
      await hs.stop();
    }
  });

  it('restarts on the same port while a client is long-polling', async () => {
    const hs = await startDevhs({ stateFile: path.join(dir, 'restart.json') });
    try {
      const alice = await hs.register('restarter');
      const roomId = await alice.createRoom({});
      alice.since = (await alice.sync()).next_batch;
      const waiting = (await hs.status()).waiting_syncs;
      const parked = alice.sync({ since: alice.since, timeout: 20000 });
      await waitFor(async () => (await hs.status()).waiting_syncs > waiting, 5000);
      const url = hs.url;
      await hs.restart();
      assert.equal(hs.url, url);
      const released = await parked; // shutdown answers parked long-polls instead of hanging
      assert.deepEqual(released.rooms.join, {});
      const e = await alice.sendText(roomId, 'same url, same token');
      const batch = await alice.sync({ since: released.next_batch, timeout: 5000 });
      assert.deepEqual(timelineOf(batch, roomId).map((x) => x.event_id), [e]);
    } finally {
      await hs.stop();
    }
  });

  it('refuses a state file it did not write', async () => {
    const bad = path.join(dir, 'bad.json');
    (await import('node:fs')).writeFileSync(bad, '{"hello": 1}');
    await assert.rejects(startDevhs({ stateFile: bad }), /exited/);
  });
});
