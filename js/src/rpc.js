// Request/reply over an anywidget model's custom messages. Every request carries an id, gets a
// timeout, can be cancelled, and settles exactly once: with the kernel's reply, with the kernel's
// error reply, with a timeout error, or with a cancellation.
//
// Wire format (JSON content; binary payloads travel as message buffers):
//   frontend -> kernel  {kind: "request", id, method, params}
//   kernel -> frontend  {kind: "reply", id, ok: true, result}        + buffers
//   kernel -> frontend  {kind: "reply", id, ok: false, error: "..."}
// Cancellation is local to the browser: nothing is sent (on an ordered channel a cancel could
// never reach the kernel before its request). The kernel still answers a cancelled request;
// that late reply is ignored.

export class RpcError extends Error {
  constructor(message, { cancelled = false, timedOut = false } = {}) {
    super(message);
    this.name = "RpcError";
    this.cancelled = cancelled;
    this.timedOut = timedOut;
  }
}

let viewCounter = 0;

/**
 * @param model anywidget model (on/off "msg:custom", send)
 * @param {object} [o]
 * @param {number} [o.timeoutMs=60000] time to wait for a reply
 */
export function createRpc(model, { timeoutMs = 60000 } = {}) {
  const prefix = `v${++viewCounter}-${Math.random().toString(36).slice(2, 8)}`;
  let next = 0;
  const pending = new Map();

  function settle(id) {
    const p = pending.get(id);
    if (!p) return null;
    pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  function onMessage(msg, buffers) {
    if (!msg || msg.kind !== "reply") return;
    const p = settle(msg.id);
    if (!p) return; // another view's request, or one already cancelled / timed out
    if (msg.ok) p.resolve({ result: msg.result ?? {}, buffers: buffers ?? [] });
    else p.reject(new RpcError(msg.error || "the kernel replied with an unnamed error"));
  }
  model.on("msg:custom", onMessage);

  return {
    /** Send a request; returns {id, promise}. */
    request(method, params = {}) {
      const id = `${prefix}-${++next}`;
      const promise = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          if (settle(id)) {
            reject(new RpcError(`no reply from the kernel after ${Math.round(timeoutMs / 1000)} s (is it busy or dead?)`, { timedOut: true }));
          }
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
      });
      model.send({ kind: "request", id, method, params });
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
    get pendingCount() {
      return pending.size;
    },
    dispose() {
      model.off("msg:custom", onMessage);
      for (const id of [...pending.keys()]) settle(id)?.reject(new RpcError("view closed", { cancelled: true }));
    },
  };
}
