// Loading a classic script (BokehJS) into the page once, with a time limit: the first caller
// appends the <script>, later callers get the same promise, and a page that has the global
// already (e.g. from bokeh's output_notebook) loads nothing.

const PENDING = "__vitwidgetsScripts";

/** URL of `name` in the folder of the script at `scriptUrl` (e.g. our remoteEntry.js). */
export function siblingUrl(scriptUrl, name) {
  return new URL(name, scriptUrl).href;
}

/**
 * Resolve with "present" when `win[global]` exists already, else load `url` once and resolve
 * with "loaded" when it defined `win[global]`; reject with a message naming the URL on a load
 * error, a script that did not define the global, or after `timeoutMs`.
 */
export function loadScriptOnce(doc, win, url, { global = "Bokeh", timeoutMs = 60_000 } = {}) {
  if (win[global] !== undefined) return Promise.resolve("present");
  win[PENDING] ??= {};
  win[PENDING][url] ??= new Promise((resolve, reject) => {
    const script = doc.createElement("script");
    const fail = (why) => { clearTimeout(timer); reject(new Error(`${global} could not be loaded from ${url}: ${why}`)); };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    script.onload = () => {
      if (win[global] === undefined) return fail(`the script did not define window.${global}`);
      clearTimeout(timer);
      resolve("loaded");
    };
    script.onerror = () => fail("the request failed");
    script.src = url;
    doc.head.appendChild(script);
  });
  return win[PENDING][url];
}
