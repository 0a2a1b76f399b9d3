// Helpers for tests that act as a Matrix user around calls: find invites, the bot's direct
// rooms, call events, notices.
import { waitFor } from './wait.mjs';

// The first room we are invited to in a sync batch, or undefined.
export function invitedRoom(batch) {
  return Object.keys(batch.rooms?.invite || {})[0];
}

// Timeline events of one room in a sync batch.
export function timeline(batch, roomId) {
  return batch.rooms?.join?.[roomId]?.timeline?.events || [];
}

// Syncs as client until a timeline event in roomId satisfies pred; returns it.
export async function waitForEvent(client, roomId, pred, timeoutMs = 15000) {
  return client.syncUntil((b) => timeline(b, roomId).find(pred), { timeoutMs });
}

// "!call" as user in groupRoom: the bot opens (or reuses) a direct room and rings there. Joins
// the direct room and returns { room, invite } where invite is the bot's m.call.invite event.
export async function callCommandRing(client, groupRoom, botUserId, timeoutMs = 20000) {
  if (client.since === undefined) await client.syncNext();
  await client.sendText(groupRoom, '!call');
  const dm = await client.syncUntil(invitedRoom, { timeoutMs });
  await client.join(dm);
  const invite = await waitForEvent(client, dm, (e) => e.type === 'm.call.invite' &&
                                    e.sender === botUserId, timeoutMs);
  return { room: dm, invite };
}

export async function reject(client, roomId, invite) {
  await client.send(roomId, 'm.call.reject', {
    call_id: invite.content.call_id, party_id: client.deviceId || 'TEST', version: '1',
  });
}

// m.notice bodies the bot sent to roomId, from the room's history.
export async function notices(client, roomId, botUserId) {
  const events = await client.allMessages(roomId);
  return events.filter((e) => e.sender === botUserId && e.type === 'm.room.message' &&
                       e.content.msgtype === 'm.notice').map((e) => e.content.body);
}

// ---- raw call events (a test client acting as a caller by hand) ----

// Creates a direct room (is_direct, private) with the bot and waits until the bot joined it.
export async function directRoomWithBot(client, botUserId, timeoutMs = 15000) {
  const room = await client.createRoom({ preset: 'private_chat', is_direct: true,
                                         invite: [botUserId] });
  await waitFor(async () => (await client.members(room))
    .some((e) => e.state_key === botUserId && e.content.membership === 'join'), timeoutMs,
  { message: `the bot joins the direct room ${room}` });
  return room;
}

// Sends an m.call.invite by hand. Fields left undefined stay out of the content.
export function sendInvite(client, roomId, { callId, sdp, lifetime = 60000, invitee,
                                             version = '1', partyId = client.deviceId }) {
  const content = { call_id: callId, version, lifetime, offer: { type: 'offer', sdp } };
  if (version !== 0 && partyId !== undefined) content.party_id = partyId;
  if (invitee) content.invitee = invitee;
  return client.send(roomId, 'm.call.invite', content);
}

export function sendHangup(client, roomId, callId, { reason = 'user_hangup', version = '1',
                                                     partyId = client.deviceId } = {}) {
  const content = version === 0 ? { call_id: callId, version: 0 }
    : { call_id: callId, version, party_id: partyId, reason };
  return client.send(roomId, 'm.call.hangup', content);
}

// The room's events (from its history) matching { type, sender, callId }; any may be left out.
export async function roomEvents(client, roomId, { type, sender, callId } = {}) {
  const events = await client.allMessages(roomId);
  return events.filter((e) => (!type || e.type === type) && (!sender || e.sender === sender) &&
                       (!callId || e.content?.call_id === callId));
}

// Waits until the room's history holds an event matching the filter (see roomEvents); returns
// the first one. History, not /sync, so the client's own sync position is left alone.
export async function waitForRoomEvent(client, roomId, filter, timeoutMs = 15000) {
  return waitFor(async () => (await roomEvents(client, roomId, filter))[0], timeoutMs,
                 { message: `${JSON.stringify(filter)} in ${roomId}`, maxIntervalMs: 300 });
}
