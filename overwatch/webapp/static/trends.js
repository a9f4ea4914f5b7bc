// Trending page: fetch each chosen trend's points (the trends API) and draw them with
// JSROOT as a TMultiGraph: the limit bands first (filled, translucent), then the values.
// x is seconds since 1970 (UTC) on a time axis, or the run number.
"use strict";

(function () {
  const section = document.querySelector("section.trends");
  if (!section) return;
  const frames = Array.from(section.querySelectorAll(".trend-draw[data-url]"));
  const byRun = section.dataset.x === "run";
  // ROOT colour indices: kOrange for warning bands, kRed for critical ones, kBlue+2 for values.
  const BAND_COLOR = { warning: 800, critical: 632 };
  const VALUE_COLOR = 602;

  function showMessage(frame, message, className) {
    const p = document.createElement("p");
    p.className = className;
    p.textContent = message; // server text (names) as text, never HTML
    frame.replaceChildren(p);
  }
  if (typeof JSROOT === "undefined") {
    for (const frame of frames) showMessage(frame, "JSROOT is not available; see the banner above.", "draw-error");
    return;
  }
  JSROOT.settings.ProgressBox = false;

  function graph(xs, ys, name) {
    const g = JSROOT.createTGraph(xs.length, xs, ys);
    g.fName = name;
    g.fTitle = name;
    return g;
  }

  // The regions outside one limit, as closed polygons spanning the plot: below low, above high.
  function bands(limit, x0, x1, y0, y1) {
    const out = [];
    const box = (lo, hi) => graph([x0, x1, x1, x0, x0], [lo, lo, hi, hi, lo], "band_" + limit.severity);
    if (limit.low !== null && limit.low > y0) out.push(box(y0, limit.low));
    if (limit.high !== null && limit.high < y1) out.push(box(limit.high, y1));
    for (const g of out) {
      g.fFillColor = BAND_COLOR[limit.severity] || 800;
      g.fFillStyle = limit.severity === "critical" ? 4035 : 4030; // translucent
      g.fLineColor = g.fFillColor;
    }
    return out;
  }

  function build(data, title) {
    const xs = data.points.map((p) => (byRun ? p.run_number : Date.parse(p.time) / 1000));
    const ys = data.points.map((p) => p.value);
    const edges = [];
    for (const limit of data.limits) {
      if (limit.low !== null) edges.push(limit.low);
      if (limit.high !== null) edges.push(limit.high);
    }
    let y0 = Math.min(...ys, ...edges);
    let y1 = Math.max(...ys, ...edges);
    const dy = y1 > y0 ? 0.1 * (y1 - y0) : Math.abs(y0) * 0.1 || 1;
    y0 -= dy;
    y1 += dy;
    let x0 = Math.min(...xs);
    let x1 = Math.max(...xs);
    // Runs: whole-number margins, so that ticks can fall on run numbers; time: 5 % or 10 minutes.
    const dx = byRun ? Math.max(1, Math.round(0.05 * (x1 - x0))) : x1 > x0 ? 0.05 * (x1 - x0) : 600;
    x0 -= dx;
    x1 += dx;

    const mg = JSROOT.create("TMultiGraph");
    mg.fName = "trend";
    mg.fTitle = title;
    let count = 0;
    // Warning bands under critical ones.
    for (const severity of ["warning", "critical"]) {
      for (const limit of data.limits.filter((l) => l.severity === severity)) {
        for (const band of bands(limit, x0, x1, y0, y1)) {
          mg.fGraphs.Add(band, "F");
          count += 1;
        }
      }
    }
    const values = graph(xs, ys, data.name);
    values.fLineColor = values.fMarkerColor = VALUE_COLOR;
    values.fMarkerStyle = 20;
    values.fMarkerSize = 0.8;
    mg.fGraphs.Add(values, "LP");

    const h = JSROOT.createHistogram("TH1F", 100);
    h.fName = "axes";
    h.fTitle = title;
    h.fXaxis.fXmin = x0;
    h.fXaxis.fXmax = x1;
    h.fMinimum = y0;
    h.fMaximum = y1;
    h.fXaxis.fTitle = byRun ? "run number" : "time";
    if (byRun) {
      // Run numbers in full (kNoExponent, BIT(17)), whole numbers only (kIsInteger, BIT(22)).
      h.fXaxis.fBits |= (1 << 17) | (1 << 22);
      // A few runs: one tick per run, exactly (a negative count is not optimised).
      h.fXaxis.fNdivisions = x1 - x0 <= 12 ? -(x1 - x0) : 505;
    } else {
      h.fXaxis.fTimeDisplay = true;
      h.fXaxis.fTimeFormat = "%d/%m %H:%M%F1970-01-01 00:00:00s0";
    }
    h.fYaxis.fTitle = title;
    mg.fHistogram = h;
    return { mg, count };
  }

  async function drawOne(frame) {
    try {
      const response = await fetch(frame.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) {
        let reason = response.statusText;
        try { reason = (await response.json()).error.reason; } catch (ignored) { /* not JSON */ }
        throw new Error(response.status + " " + reason);
      }
      const data = await response.json();
      if (!data.points.length) {
        frame.dataset.drawn = "empty";
        showMessage(frame, "No values in this range yet.", "muted");
        return;
      }
      const built = build(data, frame.dataset.title || data.name);
      frame.textContent = "";
      await JSROOT.draw(frame, built.mg, "A");
      frame.dataset.bands = String(built.count);
      frame.dataset.points = String(data.points.length);
      frame.dataset.drawn = "yes";
    } catch (err) {
      frame.dataset.drawn = "error";
      showMessage(frame, "Could not draw: " + err.message, "draw-error");
    }
  }

  Promise.all(frames.map(drawOne)).then(() => { section.dataset.drawn = "all"; });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const f of frames) if (f.dataset.drawn === "yes") JSROOT.resize(f); }, 200);
  });
})();
