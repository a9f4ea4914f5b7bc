// Run pages: compare a histogram with its subsystem's reference run. Every 1D and 2D
// card whose subsystem has a reference for this run offers three views: the histogram
// as stored, the reference overlaid on the same pad (normalised to the same integral,
// red), and the ratio histogram / normalised reference. The reference's stored JSROOT
// JSON comes from the API (.../reference/histogram?name=...); the arithmetic is done
// here on the JSROOT objects, so the server reads no ROOT file and computes nothing.
// overwatch.js draws the plain view and, for live runs, hands every changed histogram
// of a card in another view to this file ("overwatch:object" event) to redraw that view.
"use strict";

(function () {
  const section = document.querySelector("section.histograms");
  if (!section || typeof JSROOT === "undefined") return;
  const REFERENCE_COLOR = 2; // ROOT's kRed
  const EMPTY = -1111; // ROOT's "not set" for fMaximum / fMinimum
  const references = new Map(); // frame -> Promise of {obj, run}
  const objects = new Map(); // frame -> the newest histogram object

  async function fetchObject(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      let reason = response.status + " " + response.statusText;
      try { reason = (await response.json()).error.reason; } catch (ignored) { /* not JSON */ }
      throw new Error(reason);
    }
    return { obj: JSROOT.parse(await response.text()), run: response.headers.get("Overwatch-Reference-Run") };
  }

  function reference(frame) {
    if (!references.has(frame)) {
      const pending = fetchObject(frame.dataset.refUrl);
      // A failed fetch is tried again the next time the view is chosen.
      pending.catch(() => references.delete(frame));
      references.set(frame, pending);
    }
    return references.get(frame);
  }

  async function histogram(frame) {
    if (!objects.has(frame)) {
      const obj = (await fetchObject(frame.dataset.url)).obj;
      OverwatchFunctions.prepare(obj); // overwatch.js names what it leaves out under the card
      objects.set(frame, obj);
    }
    return objects.get(frame);
  }

  function is2D(h) { return h._typename.startsWith("TH2"); }

  // Indices into fArray of the bins inside the axes (ROOT's order: x fastest, flow bins kept).
  function cellsInRange(h) {
    const nx = h.fXaxis.fNbins;
    const cells = [];
    if (!is2D(h)) {
      for (let i = 1; i <= nx; i++) cells.push(i);
      return cells;
    }
    for (let j = 1; j <= h.fYaxis.fNbins; j++) for (let i = 1; i <= nx; i++) cells.push(i + (nx + 2) * j);
    return cells;
  }

  function sameAxis(a, b) {
    const close = (x, y) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
    return a.fNbins === b.fNbins && close(a.fXmin, b.fXmin) && close(a.fXmax, b.fXmax);
  }

  function binningProblem(h, ref) {
    if (h._typename.slice(0, 3) !== ref._typename.slice(0, 3)) return "the reference is a " + ref._typename + ", this a " + h._typename;
    const axes = is2D(h) ? ["fXaxis", "fYaxis"] : ["fXaxis"];
    for (const axis of axes) if (!sameAxis(h[axis], ref[axis])) return "the reference has other binning";
    return null;
  }

  function integral(h, cells) {
    let sum = 0;
    for (const c of cells) sum += h.fArray[c];
    return sum;
  }

  // Squared error of a bin: fSumw2 when stored, else Poisson.
  function variance(h, c) {
    return h.fSumw2 && h.fSumw2.length ? h.fSumw2[c] : Math.abs(h.fArray[c]);
  }

  function scaledReference(ref, k, run) {
    const out = JSROOT.clone(ref);
    out.fArray = Array.from(ref.fArray, (v) => v * k);
    if (ref.fSumw2 && ref.fSumw2.length) out.fSumw2 = Array.from(ref.fSumw2, (v) => v * k * k);
    out.fName = "reference_run_" + run;
    out.fTitle = "reference run " + run + " (normalised)";
    out.fLineColor = REFERENCE_COLOR;
    out.fLineWidth = 2;
    out.fMarkerColor = REFERENCE_COLOR;
    out.fFillStyle = 0;
    out.fMaximum = EMPTY;
    out.fMinimum = EMPTY;
    out.fFunctions = JSROOT.create("TList");
    return out;
  }

  // hist / (k * ref) bin by bin, with ROOT's error propagation (TH1::Divide); 0 where the
  // reference is empty.
  function ratio(hist, ref, k, cells, run) {
    const out = JSROOT.clone(hist);
    const values = new Array(hist.fArray.length).fill(0);
    const errors = new Array(hist.fArray.length).fill(0);
    let filled = 0;
    for (const c of cells) {
      const r = ref.fArray[c] * k;
      if (r === 0) continue;
      const h = hist.fArray[c];
      values[c] = h / r;
      errors[c] = (variance(hist, c) * r * r + variance(ref, c) * k * k * h * h) / (r * r * r * r);
      if (h !== 0) filled += 1;
    }
    out.fArray = values;
    out.fSumw2 = errors;
    out.fEntries = filled;
    out.fName = hist.fName + "_ratio";
    out.fTitle = (hist.fTitle || hist.fName) + " / reference run " + run;
    out.fMaximum = EMPTY;
    out.fMinimum = EMPTY;
    out.fFunctions = JSROOT.create("TList");
    (is2D(hist) ? out.fZaxis : out.fYaxis).fTitle = "ratio to reference run " + run;
    return out;
  }

  function format(k) {
    return k >= 0.01 && k < 1000 ? k.toPrecision(3) : k.toExponential(2);
  }

  function setCaption(frame, text, kind) {
    const caption = frame.closest(".hist-card").querySelector(".ref-caption");
    if (!caption) return;
    caption.replaceChildren();
    caption.classList.toggle("ref-error", kind === "error");
    if (!text) { caption.hidden = true; return; }
    if (kind === "overlay") {
      const swatch = document.createElement("span");
      swatch.className = "ref-swatch";
      caption.append(swatch);
    }
    caption.append(document.createTextNode(text));
    caption.hidden = false;
  }

  // Draws `view` of the frame's histogram; returns the caption.
  async function draw(frame, view, hist) {
    const options = frame.dataset.options || "";
    if (view === "plain") {
      await JSROOT.draw(frame, hist, options);
      return "";
    }
    const got = await reference(frame);
    const run = got.run || frame.dataset.refRun;
    const problem = binningProblem(hist, got.obj);
    if (problem) throw new Error("reference run " + run + ": " + problem + "; nothing to compare");
    const cells = cellsInRange(hist);
    const total = integral(hist, cells);
    const refTotal = integral(got.obj, cells);
    if (!(total > 0)) throw new Error("this histogram is empty: nothing to normalise the reference to");
    if (!(refTotal > 0)) throw new Error("the histogram of reference run " + run + " is empty");
    const k = total / refTotal;
    const scaled = scaledReference(got.obj, k, run);
    if (view === "ratio") {
      await JSROOT.draw(frame, ratio(hist, got.obj, k, cells, run), is2D(hist) ? "colz nostat" : "E nostat");
      return "Ratio of this run to reference run " + run + ", normalised to the same integral (reference × " + format(k) + ").";
    }
    const main = JSROOT.clone(hist);
    if (!is2D(hist) && hist.fMaximum === EMPTY) {
      let top = 0;
      for (const c of cells) top = Math.max(top, hist.fArray[c], scaled.fArray[c]);
      if (top > 0) main.fMaximum = top * 1.1;
    }
    await JSROOT.draw(frame, main, options);
    await JSROOT.draw(frame, scaled, is2D(hist) ? "box same" : "hist same");
    return "Red: reference run " + run + ", normalised to the same integral (× " + format(k) + ").";
  }

  async function show(frame, view) {
    const buttons = frame.closest(".hist-card").querySelectorAll(".ref-views button");
    for (const button of buttons) {
      button.disabled = true;
      button.setAttribute("aria-pressed", String(button.dataset.view === view));
    }
    frame.dataset.view = view;
    frame.dataset.viewDrawn = "drawing";
    let hist = null;
    try {
      hist = await histogram(frame);
      JSROOT.cleanup(frame);
      frame.replaceChildren();
      setCaption(frame, await draw(frame, view, hist), view);
      frame.dataset.viewDrawn = view;
    } catch (err) {
      // Back to the plain histogram, with the reason the comparison cannot be shown.
      JSROOT.cleanup(frame);
      frame.replaceChildren();
      if (hist) await JSROOT.draw(frame, hist, frame.dataset.options || "");
      frame.dataset.view = "plain";
      frame.dataset.viewDrawn = "error";
      for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.view === "plain"));
      setCaption(frame, "Cannot compare with the reference: " + err.message, "error");
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }

  section.addEventListener("click", (event) => {
    const button = event.target.closest(".ref-views button[data-view]");
    if (!button) return;
    const frame = button.closest(".hist-card").querySelector(".hist-draw[data-ref-url]");
    if (!frame || frame.dataset.drawn !== "yes" || button.dataset.view === (frame.dataset.view || "plain")) return;
    show(frame, button.dataset.view);
  });

  section.addEventListener("overwatch:object", (event) => {
    const frame = event.target;
    objects.set(frame, event.detail);
    show(frame, frame.dataset.view || "plain");
  });
})();
