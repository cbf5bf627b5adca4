// Colours of vitwidgets' bokeh plots in JupyterLab's light and dark themes. Bokeh paints on a
// canvas, so CSS cannot recolour it: the colours are set on the bokeh models themselves.

/** Bokeh property -> colour, per theme. Every model of a plot takes the properties it has. */
export const PALETTES = {
  // bokeh's own defaults: in the light theme nothing is set (nor sent to the kernel)
  light: {
    background_fill_color: "#ffffff",
    border_fill_color: "#ffffff",
    outline_line_color: "#e5e5e5",
    axis_line_color: "black",
    major_tick_line_color: "black",
    minor_tick_line_color: "black",
    major_label_text_color: "#444444",
    axis_label_text_color: "#444444",
    grid_line_color: "#e5e5e5",
    label_text_color: "#444444",
    border_line_color: "#e5e5e5",
    text_color: "#444444",
    title_text_color: "#444444",
  },
  dark: {
    background_fill_color: "#1a1a1a",
    border_fill_color: "#111111",
    outline_line_color: "#3a3a3a",
    axis_line_color: "#b0b0b0",
    major_tick_line_color: "#b0b0b0",
    minor_tick_line_color: "#b0b0b0",
    major_label_text_color: "#c8c8c8",
    axis_label_text_color: "#d8d8d8",
    grid_line_color: "#333333",
    label_text_color: "#d8d8d8",
    border_line_color: "#3a3a3a",
    text_color: "#d8d8d8",
    title_text_color: "#d8d8d8",
  },
};

/** Colour of the per-layer mean line (renderer "vw-mean"), per theme. */
export const MEAN_LINE = { light: "#222222", dark: "#f2f2f2" };

/** The glyphs of a renderer that bokeh may paint it with (some are "auto" or null). */
const MEAN_GLYPHS = ["glyph", "selection_glyph", "nonselection_glyph", "hover_glyph", "muted_glyph"];

/** Prefix of the names of the plots this module themes (LayerMetrics: "vw-plot-<metric>",
 * vw.plots figures: "vw-plot-notebook"). */
export const PLOT_PREFIX = "vw-plot-";

/** True when JupyterLab shows a dark theme (`<body data-jp-theme-light="false">`). */
export function isDarkTheme(body) {
  return body?.dataset?.jpThemeLight === "false";
}

/** The models of a bokeh plot that carry colours: the plot, its title (a property of the plot,
 * not one of its panels), axes, grids and legends. */
export function coloured(plot) {
  const panels = ["above", "below", "left", "right", "center"].flatMap((side) => plot[side] ?? []);
  const title = plot.title !== null && typeof plot.title === "object" ? [plot.title] : [];
  return [plot, ...title, ...panels];
}

/** A property's value: glyph properties (vectorised) hold a `{value}` spec, others the value. */
export function plainValue(v) {
  return v !== null && typeof v === "object" && "value" in v ? v.value : v;
}

/** `[model, {property: colour}]` for every model of `plot` whose colours differ from `theme`'s
 * (colours that are off, null, stay off). */
export function themeChanges(plot, theme) {
  const palette = PALETTES[theme];
  const changes = [];
  const add = (model, wanted) => {
    // a colour set to null (None in Python) is switched off on purpose: it stays off
    const diff = Object.fromEntries(Object.entries(wanted).filter(([k, v]) => {
      const now = plainValue(model[k]);
      return k in model.properties && now !== null && now !== v;
    }));
    if (Object.keys(diff).length) changes.push([model, diff]);
  };
  for (const model of coloured(plot)) add(model, palette);
  // every glyph of the mean line: once a head is selected, bokeh paints the line with its
  // non-selection glyph (it shares the dots' data source), so theming `glyph` alone is not enough
  for (const r of plot.renderers ?? []) {
    if (r.name !== "vw-mean") continue;
    for (const glyph of MEAN_GLYPHS.map((g) => r[g])) {
      if (glyph && typeof glyph === "object" && glyph.properties) add(glyph, { line_color: MEAN_LINE[theme] });
    }
  }
  return changes;
}

/** The vitwidgets plots among the models of bokeh documents (`Bokeh.documents`). */
export function vitwidgetsPlots(documents) {
  const plots = [];
  for (const doc of documents ?? []) {
    for (const model of doc._all_models?.values?.() ?? []) {
      if (typeof model.name === "string" && model.name.startsWith(PLOT_PREFIX) && "renderers" in model) plots.push(model);
    }
  }
  return plots;
}

/** Give every vitwidgets plot of `documents` the colours of `theme`; returns how many models changed. */
export function applyTheme(documents, theme) {
  let changed = 0;
  for (const plot of vitwidgetsPlots(documents)) {
    for (const [model, attrs] of themeChanges(plot, theme)) {
      model.setv(attrs);
      changed += 1;
    }
  }
  return changed;
}
