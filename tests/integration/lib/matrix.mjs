// A small Matrix Client-Server API client for tests (Node's fetch, no dependencies): enough to
// register, log in, create and join rooms, send, read state, page history and long-poll /sync.
// Errors come back as MatrixError carrying the HTTP status and the spec's errcode, so a test
// can assert on exactly what a real homeserver would answer.

export class MatrixError extends Error {
  constructor(method, path, status, body, headers) {
    const errcode = body && typeof body === 'object' ? body.errcode : undefined;
    const text = body && typeof body === 'object' ? body.error : String(body).slice(0, 200);
    super(`${method} ${path} -> ${status} ${errcode || ''} ${text || ''}`.trim());
    this.status = status;
    this.errcode = errcode;
    this.body = body;
    this.headers = headers;
    this.retryAfterMs = body && typeof body === 'object' ? body.retry_after_ms : undefined;
  }
}

const enc = encodeURIComponent;

function queryString(query) {
  if (!query) return '';
  const parts = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    parts.push(`${enc(k)}=${enc(typeof v === 'object' ? JSON.stringify(v) : String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

let txnCounter = 0;
export function newTxnId() {
  txnCounter += 1;
  return `t${Date.now()}.${process.pid}.${txnCounter}`;
}

export class MatrixClient {
  constructor(baseUrl, { accessToken, userId, deviceId } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.accessToken = accessToken;
    this.userId = userId;
    this.deviceId = deviceId;
    this.since = undefined; // next_batch of the last sync made through syncNext()
  }

  // One HTTP exchange; never throws for an HTTP status. Resolves with
  // { status, headers, body } where body is parsed JSON when possible.
  async raw(method, path, { body, query, auth = true, prefix = '/_matrix/client/v3',
                            timeoutMs = 60000, headers = {}, rawBody } = {}) {
    const url = `${this.baseUrl}${prefix}${path}${queryString(query)}`;
    const h = { ...headers };
    if (auth && this.accessToken) h.Authorization = `Bearer ${this.accessToken}`;
    let payload = rawBody;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      h['Content-Type'] = 'application/json';
    }
    const res = await fetch(url, { method, headers: h, body: payload,
                                   signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  // Like raw() but resolves with the body of a 2xx and throws MatrixError otherwise.
  async request(method, path, opts = {}) {
    const r = await this.raw(method, path, opts);
    if (r.status < 200 || r.status > 299) {
      throw new MatrixError(method, path, r.status, r.body, r.headers);
    }
    return r.body;
  }

  // ---- accounts --------------------------------------------------------------------------

  // Registers through user-interactive auth (the 401 round, then m.login.dummy) and keeps the
  // returned token unless inhibitLogin.
  async register(username, password, { inhibitLogin, deviceId, displayName } = {}) {
    const body = { username, password, inhibit_login: inhibitLogin, device_id: deviceId,
                   initial_device_display_name: displayName };
    const first = await this.raw('POST', '/register', { body, auth: false });
    if (first.status !== 401) throw new MatrixError('POST', '/register', first.status, first.body);
    body.auth = { type: 'm.login.dummy', session: first.body.session };
    const r = await this.request('POST', '/register', { body, auth: false });
    this.userId = r.user_id;
    if (r.access_token) {
      this.accessToken = r.access_token;
      this.deviceId = r.device_id;
    }
    return r;
  }

  static async register(baseUrl, username, password, opts) {
    const c = new MatrixClient(baseUrl);
    await c.register(username, password, opts);
    return c;
  }

  async login(user, password, { deviceId } = {}) {
    const r = await this.request('POST', '/login', {
      auth: false,
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password,
              device_id: deviceId },
    });
    this.accessToken = r.access_token;
    this.userId = r.user_id;
    this.deviceId = r.device_id;
    return r;
  }

  static async login(baseUrl, user, password, opts) {
    const c = new MatrixClient(baseUrl);
    await c.login(user, password, opts);
    return c;
  }

  logout() {
    return this.request('POST', '/logout', { body: {} });
  }

  whoami() {
    return this.request('GET', '/account/whoami');
  }

  // ---- rooms -----------------------------------------------------------------------------

  async createRoom(opts = {}) {
    const r = await this.request('POST', '/createRoom', { body: opts });
    return r.room_id;
  }

  invite(roomId, userId, reason) {
    return this.request('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: userId, reason } });
  }

  async join(roomIdOrAlias) {
    const r = await this.request('POST', `/join/${enc(roomIdOrAlias)}`, { body: {} });
    return r.room_id;
  }

  leave(roomId) {
    return this.request('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
  }

  kick(roomId, userId, reason) {
    return this.request('POST', `/rooms/${enc(roomId)}/kick`, { body: { user_id: userId, reason } });
  }

  ban(roomId, userId, reason) {
    return this.request('POST', `/rooms/${enc(roomId)}/ban`, { body: { user_id: userId, reason } });
  }

  unban(roomId, userId) {
    return this.request('POST', `/rooms/${enc(roomId)}/unban`, { body: { user_id: userId } });
  }

  forget(roomId) {
    return this.request('POST', `/rooms/${enc(roomId)}/forget`, { body: {} });
  }

  async joinedRooms() {
    return (await this.request('GET', '/joined_rooms')).joined_rooms;
  }

  async members(roomId, query) {
    return (await this.request('GET', `/rooms/${enc(roomId)}/members`, { query })).chunk;
  }

  async send(roomId, type, content, txnId = newTxnId()) {
    const r = await this.request('PUT', `/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`,
                                 { body: content });
    return r.event_id;
  }

  sendText(roomId, body, txnId) {
    return this.send(roomId, 'm.room.message', { msgtype: 'm.text', body }, txnId);
  }

  async sendState(roomId, type, stateKey, content) {
    const r = await this.request('PUT', `/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`,
                                 { body: content });
    return r.event_id;
  }

  // All current state events, or one state event's content.
  getState(roomId, type, stateKey = '') {
    if (type === undefined) return this.request('GET', `/rooms/${enc(roomId)}/state`);
    return this.request('GET', `/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`);
  }

  getEvent(roomId, eventId) {
    return this.request('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`);
  }

  messages(roomId, { from, to, dir = 'b', limit, filter } = {}) {
    return this.request('GET', `/rooms/${enc(roomId)}/messages`,
                        { query: { from, to, dir, limit, filter } });
  }

  // Every event of the room visible to us, oldest first (pages backwards to the start).
  async allMessages(roomId, { pageSize = 50, filter } = {}) {
    const out = [];
    let from;
    for (let i = 0; i < 10000; i++) {
      const page = await this.messages(roomId, { from, dir: 'b', limit: pageSize, filter });
      out.push(...page.chunk);
      if (!page.end) break;
      from = page.end;
    }
    return out.reverse();
  }

  // ---- sync ------------------------------------------------------------------------------

  sync({ since, timeout, filter, fullState, setPresence, timeoutMs } = {}) {
    return this.request('GET', '/sync', {
      query: { since, timeout, filter, full_state: fullState ? 'true' : undefined,
               set_presence: setPresence },
      timeoutMs: timeoutMs || (timeout || 0) + 30000,
    });
  }

  // Syncs from the last token this client saw (initial sync the first time) and remembers the
  // new one, like a client's sync loop does one iteration at a time.
  async syncNext({ timeout = 0, filter } = {}) {
    const r = await this.sync({ since: this.since, timeout, filter });
    this.since = r.next_batch;
    return r;
  }

  // Long-polls until predicate(batch) returns something truthy; resolves with that value.
  async syncUntil(predicate, { timeoutMs = 10000, filter } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`syncUntil: condition not met within ${timeoutMs} ms`);
      const batch = await this.syncNext({ timeout: Math.min(left, 5000), filter });
      const v = predicate(batch);
      if (v) return v;
    }
  }

  async uploadFilter(filter) {
    const r = await this.request('POST', `/user/${enc(this.userId)}/filter`, { body: filter });
    return r.filter_id;
  }

  setAccountData(type, content) {
    return this.request('PUT', `/user/${enc(this.userId)}/account_data/${enc(type)}`,
                        { body: content });
  }

  turnServer() {
    return this.request('GET', '/voip/turnServer');
  }
}

// Timeline events of one joined room in a sync batch (empty when the room is absent).
export function timelineOf(batch, roomId) {
  return batch?.rooms?.join?.[roomId]?.timeline?.events ?? [];
}
