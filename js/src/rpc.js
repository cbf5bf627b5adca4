// Request/reply over an anywidget model's custom messages. Every request carries an id, gets a
// timeout, can be cancelled, and settles exactly once: with the kernel's reply, with the kernel's
// error reply, with a timeout error, with a cancellation, or at once with a "disconnected" error
// when the kernel behind the widget is gone.
//
// Wire format (JSON content; binary payloads travel as message buffers):
//   frontend -> kernel  {kind: "request", id, method, params}
//   kernel -> frontend  {kind: "reply", id, ok: true, result}        + buffers
//   kernel -> frontend  {kind: "reply", id, ok: false, error: "..."}
// and the same the other way round for the kernel's requests (`serve`: e.g. the explorer's
// `export_png`, answered with the PNG bytes as a buffer).
// Cancellation is local to the browser: nothing is sent (on an ordered channel a cancel could
// never reach the kernel before its request). The kernel still answers a cancelled request;
// that late reply is ignored.
//
// A widget that outlived its kernel (Restart Kernel without re-running the cell) is dead: its
// comm went with the old kernel. ipywidgets' manager marks every model `comm_live = false` when
// the kernel restarts (the model triggers "comm_live_update"), and sending on the disposed comm
// throws "Cannot send". Either way every pending request rejects at once with a `disconnected`
// RpcError, later requests reject without sending, and `onDisconnect` is told once.

/** What a widget whose kernel restarted says (its status line): the only fix is re-running it. */
export const KERNEL_RESTARTED = "the kernel restarted: re-run this cell to use this widget again";
/** What a widget says when sending to its kernel failed (restarted, shut down or changed). */
export const KERNEL_UNREACHABLE = "cannot reach the kernel (it restarted or shut down): re-run this cell to use this widget again";

export class RpcError extends Error {
  constructor(message, { cancelled = false, timedOut = false, disconnected = false } = {}) {
    super(message);
    this.name = "RpcError";
    this.cancelled = cancelled;
    this.timedOut = timedOut;
    this.disconnected = disconnected;
  }
}

/** The message of a request that got no reply within timeoutMs. */
export function timeoutMessage(timeoutMs) {
  return `no reply from the kernel after ${Math.round(timeoutMs / 1000)} s: it is busy, or it restarted (then re-run this cell)`;
}

let viewCounter = 0;

/** Send content (+ buffers) on model; a throw (a dead comm) becomes the returned Error, else null. */
function trySend(model, content, buffers) {
  try {
    model.send(content, undefined, buffers);
    return null;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Answers to the kernel's requests: serve(method, handler) registers a handler returning (a
 * promise of) {result, buffers}; answer(msg) runs it for a request message and sends its reply,
 * a throw or rejection as an error reply with its message (a request resent while its answer
 * is on the way is answered once).
 */
function createServer(model) {
  const handlers = new Map(); // method -> (params) => Promise<{result, buffers}>
  const answering = new Set(); // ids being answered
  const fail = (msg) => new Error(`unknown request ${JSON.stringify(msg.method)}; the frontend answers: ${[...handlers.keys()].join(", ")}`);
  return {
    serve: (method, handler) => handlers.set(method, handler),
    get size() { return handlers.size; },
    clear: () => handlers.clear(),
    answer(msg) {
      if (answering.has(msg.id)) return;
      answering.add(msg.id);
      const fn = handlers.get(msg.method);
      const work = fn ? Promise.resolve().then(() => fn(msg.params ?? {})) : Promise.reject(fail(msg));
      work.then(
        ({ result = {}, buffers = [] } = {}) => trySend(model, { kind: "reply", id: msg.id, ok: true, result }, buffers),
        (err) => trySend(model, { kind: "reply", id: msg.id, ok: false, error: err?.message || String(err) }, []),
      ).finally(() => answering.delete(msg.id));
    },
  };
}

/**
 * @param model anywidget model (on/off "msg:custom", send)
 * @param {object} [o]
 * @param {number} [o.timeoutMs=60000] time to wait for a reply
 * @param {(err: RpcError) => void} [o.onDisconnect] the kernel is gone (called once, with the
 *   error every request now rejects with)
 */
export function createRpc(model, { timeoutMs = 60000, onDisconnect = () => {} } = {}) {
  const prefix = `v${++viewCounter}-${Math.random().toString(36).slice(2, 8)}`;
  let next = 0;
  let lost = null; // the message every request rejects with, once the kernel is gone
  const pending = new Map();
  const server = createServer(model);

  function settle(id) {
    const p = pending.get(id);
    if (!p) return null;
    pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  const lostError = () => new RpcError(lost, { disconnected: true });

  function disconnect(message) {
    if (lost) return;
    lost = message;
    for (const id of [...pending.keys()]) settle(id)?.reject(lostError());
    onDisconnect(lostError());
  }

  function onMessage(msg, buffers) {
    if (msg && msg.kind === "request" && server.size) return server.answer(msg);
    if (!msg || msg.kind !== "reply") return;
    const p = settle(msg.id);
    if (!p) return; // another view's request, or one already cancelled / timed out
    if (msg.ok) p.resolve({ result: msg.result ?? {}, buffers: buffers ?? [] });
    else p.reject(new RpcError(msg.error || "the kernel replied with an unnamed error"));
  }
  const onCommLive = () => disconnect(KERNEL_RESTARTED);
  model.on("msg:custom", onMessage);
  model.on("comm_live_update", onCommLive);

  return {
    /** Send a request; returns {id, promise}. Never throws: a dead kernel rejects the promise. */
    request(method, params = {}) {
      const id = `${prefix}-${++next}`;
      if (lost) return { id, promise: Promise.reject(lostError()) };
      const promise = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          if (settle(id)) reject(new RpcError(timeoutMessage(timeoutMs), { timedOut: true }));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
      });
      const failed = trySend(model, { kind: "request", id, method, params });
      if (failed) disconnect(KERNEL_UNREACHABLE); // rejects this request too
      return { id, promise };
    },
    /**
     * Cancel a pending request here: its promise rejects with a cancelled RpcError and its
     * reply, when it comes, is ignored. Nothing goes to the kernel.
     * @returns {boolean} false when the request was not pending
     */
    cancel(id) {
      const p = settle(id);
      if (!p) return false;
      p.reject(new RpcError("cancelled", { cancelled: true }));
      return true;
    },
    /** Answer the kernel's `method` requests with handler(params) -> (a promise of) {result, buffers}. */
    serve: (method, handler) => server.serve(method, handler),
    /** The message requests reject with since the kernel went away, or null while it is there. */
    get disconnected() {
      return lost;
    },
    get pendingCount() {
      return pending.size;
    },
    dispose() {
      model.off("msg:custom", onMessage);
      model.off("comm_live_update", onCommLive);
      server.clear();
      for (const id of [...pending.keys()]) settle(id)?.reject(new RpcError("view closed", { cancelled: true }));
    },
  };
}
