// Helpers for tests that act as a Matrix user around calls: find invites, the bot's direct
// rooms, call events, notices.

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
