// Calls `apply(theme)` when JupyterLab's theme changes and when new content appears on the page
// (a plot that rendered after the last theme change), at most once per animation frame.

import { isDarkTheme } from "./theme.js";

/** Start watching; returns a function that stops. */
export function watchTheme({ doc, win, apply }) {
  let scheduled = false;
  const later = win.requestAnimationFrame?.bind(win) ?? ((f) => win.setTimeout(f, 16));
  const run = () => {
    scheduled = false;
    apply(isDarkTheme(doc.body) ? "dark" : "light");
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    later(run);
  };
  const theme = new win.MutationObserver(schedule);
  theme.observe(doc.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
  const content = new win.MutationObserver(schedule);
  content.observe(doc.body, { childList: true, subtree: true });
  schedule();
  return () => {
    theme.disconnect();
    content.disconnect();
  };
}
