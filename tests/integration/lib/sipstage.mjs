// The stage of the SIP tests: a development homeserver with the bot, users and a group room the
// bot joined (as in scenario.mjs), kamailio as the trunk (optional), and switchboard with a sip:
// section pointing at it: listening on a loopback port of its own, registering to kamailio with
// digest auth, numbers routed to the room. Phones (baresip) and SIPp are the test's to start.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { startDevhs } from './devhs.mjs';
import { defaultUsers, startKamailio } from './kamailio.mjs';
import { freePort } from './net.mjs';
import { startSwitchboard, tempDir, writeConfig } from './switchboard.mjs';
import { waitFor } from './wait.mjs';

export const ROOM_NUMBER = '+15550100';
export const GATEWAY_FROM = '+15550199';

const q = (s) => JSON.stringify(s);

// The sip: section. trunk: the kamailio trunk's port (registrar and proxy), or null for an
// IP-authenticated trunk with no proxy. routes: [{ number, room | user }].
export function sipYaml({ sipPort, trunkPort, password, routes, allowedUsers = ['@*:localhost'],
                          allowedNumbers = ['+1555*'], allowedSources = ['127.0.0.1/32'],
                          codecs = ['opus', 'g722', 'pcmu', 'pcma'], rate, sessionExpiresS,
                          ringTimeoutS }) {
  const lines = [
    'sip:',
    `  listen: [${q(`udp:127.0.0.1:${sipPort}`)}, ${q(`tcp:127.0.0.1:${sipPort}`)}]`,
    '  trunks:',
    '    - name: kamailio',
  ];
  if (trunkPort) {
    lines.push(
      `      registrar: ${q(`sip:127.0.0.1:${trunkPort}`)}`,
      `      proxy: ${q(`sip:127.0.0.1:${trunkPort}`)}`,
      '      username: switchboard',
      `      password: ${q(password)}`,
    );
  }
  lines.push(
    `      from_user: ${q(GATEWAY_FROM)}`,
    `      codecs: [${codecs.join(', ')}]`,
    '      srtp: off',
    `      allowed_sources: [${allowedSources.map(q).join(', ')}]`,
  );
  if (rate) lines.push(`  invite_rate_per_source: ${rate}`);
  if (sessionExpiresS) lines.push(`  session_expires_s: ${sessionExpiresS}`);
  if (ringTimeoutS) lines.push(`  ring_timeout_s: ${ringTimeoutS}`);
  lines.push('  routes:', '    inbound:');
  for (const r of routes) {
    lines.push(`      - number: ${q(r.number)}`);
    lines.push(r.room ? `        room: ${q(r.room)}` : `        user: ${q(r.user)}`);
  }
  lines.push(
    '    outbound:',
    `      allowed_users: [${allowedUsers.map(q).join(', ')}]`,
    `      allowed_numbers: [${allowedNumbers.map(q).join(', ')}]`,
    '',
  );
  return lines.join('\n');
}

// userNames: Matrix users, all in the group room (the first creates it). phoneUsers: kamailio
// accounts for phones ({ name: password }). kamailio: false for a stage without a trunk (SIPp
// talks to switchboard directly). sip: more sipYaml() options. media, calls: writeConfig()'s.
export async function sipStage(userNames, { name = 'Team', logLevel = 'info', media = {},
                                            calls = {}, kamailio = true, phoneUsers = {}, sip = {},
                                            routes } = {}) {
  const dir = tempDir('sb-sip-');
  const cleanup = [];
  const stage = {
    dir, users: {}, sb: null, kam: null, hs: null, sipPort: 0,
    async stop() {
      const st = stage.sb ? await stage.sb.stop() : null;
      for (const f of cleanup.reverse()) await f();
      return st;
    },
  };
  try {
    stage.hs = await startDevhs({ serverName: 'localhost' });
    cleanup.push(() => stage.hs.stop());
    const { hs } = stage;
    stage.bot = await hs.register('switchboard');
    for (const u of userNames) stage.users[u] = await hs.register(u, 'pw');
    const owner = stage.users[userNames[0]];
    stage.room = await owner.createRoom({
      preset: 'private_chat',
      name,
      invite: [...userNames.slice(1).map((u) => stage.users[u].userId), stage.bot.userId],
    });
    for (const u of userNames.slice(1)) await stage.users[u].join(stage.room);

    const password = defaultUsers().switchboard;
    if (kamailio) {
      stage.kam = await startKamailio({ dir, users: phoneUsers });
      cleanup.push(() => stage.kam.stop());
    }
    stage.sipPort = await freePort();
    const configFile = writeConfig(dir, {
      homeserver: hs.url,
      userId: stage.bot.userId,
      accessToken: stage.bot.accessToken,
      allowedUsers: ['@*:localhost'],
      stateDir: path.join(dir, 'state'),
      logLevel,
      media,
      calls,
    });
    appendFileSync(configFile, sipYaml({
      sipPort: stage.sipPort,
      trunkPort: stage.kam?.port,
      password,
      routes: routes || [{ number: '+15550100', room: stage.room }],
      ...sip,
    }));
    stage.configFile = configFile;
    stage.sb = await startSwitchboard(configFile);
    await waitFor(async () => (await owner.members(stage.room))
      .some((e) => e.state_key === stage.bot.userId && e.content.membership === 'join'), 15000,
    { message: 'the bot joins the group room' });
    if (stage.kam) {
      await stage.sb.waitForLog(/kamailio: registered \(expires in/, 10000);
    }
  } catch (err) {
    if (stage.sb) err.message += `\n${stage.sb.proc.describe()}`;
    if (stage.kam) err.message += `\n${stage.kam.describe()}`;
    await stage.stop().catch(() => {});
    throw err;
  }
  return stage;
}
