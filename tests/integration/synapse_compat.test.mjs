// What switchboard met on a real Synapse that the development homeserver has to reproduce, and
// switchboard has to take in its stride (checked by hand against Synapse 1.67; CI cannot run one):
// - a room joined since the last sync arrives with its timeline always marked limited, which is
//   no gap and no reason to warn;
// - a saved sync token the homeserver does not know is refused with 400 (Synapse: M_UNKNOWN
//   "Invalid stream token") for ever: switchboard must start afresh instead of retrying it, and
//   treat what the fresh sync brings as history.
// ctest-timeout: 120
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDevhs } from './lib/devhs.mjs';
import { notices } from './lib/calls.mjs';
import { timelineOf } from './lib/matrix.mjs';
import { startSwitchboard, tempDir, writeConfig } from './lib/switchboard.mjs';
import { waitFor } from './lib/wait.mjs';

test('devhs answers like Synapse where switchboard depends on it', async (t) => {
  const hs = await startDevhs();
  t.after(() => hs.stop());
  const alice = await hs.register('alice', 'pw');
  const bob = await hs.register('bob', 'pw');
  await bob.syncNext();
  const room = await alice.createRoom({ preset: 'private_chat', invite: [bob.userId] });
  await bob.syncUntil((b) => b.rooms?.invite?.[room]);
  await bob.join(room);
  const joined = await bob.syncUntil((b) => b.rooms?.join?.[room] && b);
  assert.equal(joined.rooms.join[room].timeline.limited, true,
               'a room joined since the token is limited, however short its history');
  assert.ok(timelineOf(joined, room).some((e) => e.type === 'm.room.create'),
            'and still brings its history');

  // Once followed, a quiet increment is not limited.
  await alice.sendText(room, 'hello');
  const next = await bob.syncUntil((b) => b.rooms?.join?.[room] && b);
  assert.equal(next.rooms.join[room].timeline.limited, false);

  // Tokens and filters it does not know: 400 (Synapse: M_UNKNOWN / M_INVALID_PARAM).
  const unknown = [{ since: 'garbage' }, { since: 's42_7_0_1_1_1_1_10_0' }, { filter: '999' }];
  for (const query of unknown) {
    const r = await bob.raw('GET', '/sync', { query: { timeout: 0, ...query } });
    assert.equal(r.status, 400, `${JSON.stringify(query)} -> ${r.status}`);
    assert.equal(typeof r.body.errcode, 'string');
  }
});

test('switchboard starts afresh from a sync token the homeserver refuses', async (t) => {
  const dir = tempDir();
  const hs = await startDevhs();
  t.after(() => hs.stop());
  const bot = await hs.register('switchboard');
  const alice = await hs.register('alice', 'pw');
  const room = await alice.createRoom({ preset: 'private_chat', invite: [bot.userId] });
  await bot.join(room);
  await alice.sendText(room, '!who'); // before switchboard runs: history, never answered

  // The state directory of a switchboard that last ran against another homeserver.
  const stateDir = path.join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path.join(stateDir, 'sync_token'), 's42_7_0_1_1_1_1_10_0\n');
  const configFile = writeConfig(dir, {
    homeserver: hs.url, userId: bot.userId, accessToken: bot.accessToken,
    allowedUsers: ['@*:localhost'], stateDir,
  });
  const sb = await startSwitchboard(configFile);
  t.after(() => sb.stop());
  await sb.waitForLog(/refuses our sync token/, 15000);

  // A room it is invited to now: joined, and that join is no gap in the room's timeline.
  const later = await alice.createRoom({ preset: 'private_chat', invite: [bot.userId] });
  await waitFor(async () => (await alice.members(later))
    .some((e) => e.state_key === bot.userId && e.content.membership === 'join'), 15000,
  { message: 'the bot joins the room it was invited to' });

  await alice.sendText(room, '!who');
  await waitFor(async () => (await notices(alice, room, bot.userId)).length === 1, 15000,
                { message: 'the bot answers the !who sent after it started' });
  await alice.sendText(later, '!who');
  await waitFor(async () => (await notices(alice, later, bot.userId)).length === 1, 15000,
                { message: 'the bot answers in the room it joined' });
  assert.equal((await notices(alice, room, bot.userId)).length, 1,
               'the !who typed before the bot ran was not answered');
  assert.deepEqual(sb.logLines(/timeline was limited/), [],
                   'joining a room is not a gap in its timeline');
  const saved = readFileSync(path.join(stateDir, 'sync_token'), 'utf8').trim();
  assert.notEqual(saved, 's42_7_0_1_1_1_1_10_0', 'the refused token was replaced');

  const st = await sb.stop();
  assert.equal(st.code, 0);
});
