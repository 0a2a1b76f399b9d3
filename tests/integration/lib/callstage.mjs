// The stage of the call-path tests (bad input, restarts, protocol corner cases): a development
// homeserver (optionally with a state file, so it can be restarted), a bot account, users, a
// group room some of them joined, and switchboard running as the bot with the test's own
// config (allowed users, invite lifetime, media timeouts, log level). Unlike groupRoomStage it
// can restart switchboard on the same config and state_dir, and keep the homeserver's state.
import path from 'node:path';
import { startDevhs } from './devhs.mjs';
import { startSwitchboard, tempDir, writeConfig } from './switchboard.mjs';
import { waitFor } from './wait.mjs';

export async function botJoined(client, roomId, botUserId, timeoutMs = 15000) {
  await waitFor(async () => (await client.members(roomId))
    .some((e) => e.state_key === botUserId && e.content.membership === 'join'), timeoutMs,
  { message: `the bot joins ${roomId}` });
}

// userNames: everyone registered; inRoom: who is in the group room (default: everyone). The
// first name creates the room and must be allowed, so the bot joins it.
export async function callStage(userNames, { name = 'Team', logLevel = 'info', calls, media,
                                             allowedUsers, hsState = false, inRoom } = {}) {
  const dir = tempDir('sb-calls-');
  const hs = await startDevhs({ serverName: 'localhost',
                                stateFile: hsState ? path.join(dir, 'devhs.state') : undefined });
  const bot = await hs.register('switchboard');
  const users = {};
  for (const u of userNames) users[u] = await hs.register(u, 'pw');
  const members = inRoom || userNames;
  const owner = users[members[0]];
  const room = await owner.createRoom({
    preset: 'private_chat',
    name,
    invite: [...members.slice(1).map((u) => users[u].userId), bot.userId],
  });
  for (const u of members.slice(1)) await users[u].join(room);

  const configFile = writeConfig(dir, {
    homeserver: hs.url,
    userId: bot.userId,
    accessToken: bot.accessToken,
    allowedUsers: allowedUsers || ['@*:localhost'],
    stateDir: path.join(dir, 'state'),
    logLevel,
    calls,
    media,
  });
  const stage = {
    dir, hs, bot, users, room, configFile, sb: null,
    // (Re)starts switchboard on the same config and state_dir; resolves once it syncs.
    async startSwitchboard(label = 'switchboard') {
      stage.sb = await startSwitchboard(configFile, { name: label });
      return stage.sb;
    },
    async stop() {
      const st = stage.sb ? await stage.sb.stop() : null;
      await stage.hs.stop();
      return st;
    },
  };
  await stage.startSwitchboard();
  await botJoined(owner, room, bot.userId);
  return stage;
}
