// Live updates over Server-Sent Events (GET /api/v1/integration/stream,
// authenticated by the session cookie) and the header's live indicator.
//
// Pages subscribe to event names and usually just re-fetch what they show
// (rate-limited). The stream is a live view, not a log: after a reconnect
// every subscriber is told ('live.reconnected') so it can reload.

const EVENT_NAMES = [
  'event.received', 'event.processed', 'event.retrying', 'event.failed',
  'sync.started', 'sync.progress', 'sync.finished', 'connector.health_changed',
];
const RETRY_MS = 5000;

let source = null;
let retryTimer = null;
let interrupted = false;
let closedHandler = () => {};
const subscribers = new Set();

function indicate(state) {
  const el = document.getElementById('live-indicator');
  if (!el) return;
  const on = state === 'on';
  el.classList.toggle('live-on', on);
  el.classList.toggle('live-off', !on);
  el.textContent = on ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : 'Paused';
  el.title = on ? 'Receiving live updates' : 'Live updates are not connected; pages show what they last loaded';
}

function notify(name, data) {
  for (const sub of subscribers) {
    if (name === 'live.reconnected' || sub.names.has(name)) {
      try {
        sub.fn(name, data);
      } catch (err) {
        console.error('live subscriber failed', err);
      }
    }
  }
}

function connect() {
  clearTimeout(retryTimer);
  source = new EventSource('/api/v1/integration/stream');
  indicate(interrupted ? 'reconnecting' : 'paused');

  source.onopen = () => {
    indicate('on');
    if (interrupted) {
      interrupted = false;
      notify('live.reconnected', null);
    }
  };
  source.onerror = () => {
    interrupted = true;
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. the session ended): check, then retry.
      indicate('paused');
      source = null;
      closedHandler();
      retryTimer = setTimeout(connect, RETRY_MS);
    } else {
      indicate('reconnecting'); // EventSource retries by itself
    }
  };
  for (const name of EVENT_NAMES) {
    source.addEventListener(name, (ev) => {
      let data = null;
      try {
        data = JSON.parse(ev.data);
      } catch {
        /* keep null: subscribers reload anyway */
      }
      notify(name, data);
    });
  }
}

/** Opens the stream. `onClosed` runs when the browser stops retrying. */
export function startLive(onClosed) {
  stopLive();
  closedHandler = onClosed || (() => {});
  interrupted = false;
  connect();
}

export function stopLive() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  indicate('paused');
}

/** Calls fn(name, data) for the given event names; returns an unsubscribe function. */
export function subscribe(names, fn) {
  const sub = { names: new Set(names), fn };
  subscribers.add(sub);
  return () => subscribers.delete(sub);
}
