// The common stage of the call tests: a development homeserver, a bot account, users, and a
// group room they all joined, with switchboard running as the bot.
import path from 'node:path';
import { startDevhs } from './devhs.mjs';
import { startSwitchboard, tempDir, writeConfig } from './switchboard.mjs';
import { waitFor } from './wait.mjs';

export async function groupRoomStage(userNames, { name = 'Team', logLevel = 'info', calls, media,
                                                  allowedUsers } = {}) {
  const dir = tempDir();
  const hs = await startDevhs({ serverName: 'localhost' });
  const bot = await hs.register('switchboard');
  const users = {};
  for (const u of userNames) users[u] = await hs.register(u, 'pw');
  const owner = users[userNames[0]];
  const room = await owner.createRoom({
    preset: 'private_chat',
    name,
    invite: [...userNames.slice(1).map((u) => users[u].userId), bot.userId],
  });
  for (const u of userNames.slice(1)) await users[u].join(room);

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
  const sb = await startSwitchboard(configFile);
  // The bot joins the room it was invited to by an allowed user.
  await waitFor(async () => (await owner.members(room))
    .some((e) => e.state_key === bot.userId && e.content.membership === 'join'), 15000,
  { message: 'the bot joins the group room' });

  const stage = {
    dir, hs, bot, users, room, sb, configFile,
    async stop() {
      const st = await stage.sb.stop();
      await hs.stop();
      return st;
    },
  };
  return stage;
}
