// Run pages: draw every histogram of the shown group with JSROOT, then, for an
// ongoing run, re-fetch each one periodically with its ETag and redraw only those
// that changed (the server answers 304 for the others), without reloading the page.
// A histogram shown with its reference run is redrawn by reference.js.
"use strict";

(function () {
  const section = document.querySelector("section.histograms");
  if (!section) return;
  const frames = Array.from(section.querySelectorAll(".hist-draw[data-url]"));

  // Messages may quote server text (a histogram name in a 404 reason): text only, never HTML.
  function showError(frame, message) {
    const p = document.createElement("p");
    p.className = "draw-error";
    p.textContent = message;
    frame.replaceChildren(p);
  }
  if (typeof JSROOT === "undefined") {
    for (const frame of frames) showError(frame, "JSROOT is not available; see the banner above.");
    return;
  }
  // JSROOT's progress box writes messages (which may quote object names) as HTML; names
  // are data from outside, so it stays off here as in the ROOT file view.
  JSROOT.settings.ProgressBox = false;
  const etags = new Map();
  const CONCURRENT = 4;

  // 2D histograms get a colour scale unless the plugin chose how to draw them, and never
  // a stats box: over a colour map it hides the top-right cells and the scale (the card's
  // footer gives the entries; hovering a cell gives its content).
  const TWO_D = /^(TH2|TProfile2D)/;
  function drawOptions(frame, obj) {
    let options = frame.dataset.options || "";
    if (TWO_D.test(obj._typename || "")) {
      if (!options) options = "colz";
      if (!/stat/i.test(options)) options += ";nostat";
    }
    frame.dataset.drawOptions = options;
    return options;
  }

  function unquote(tag) {
    return tag ? tag.replace(/^W\//, "").replace(/^"|"$/g, "") : "";
  }

  async function fetchObject(frame, etag) {
    const headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = '"' + etag + '"';
    // no-store: the ETag logic is ours, so a 304 reaches this code instead of the HTTP cache.
    const response = await fetch(frame.dataset.url, { headers, cache: "no-store", credentials: "same-origin" });
    if (response.status === 304) return null;
    if (!response.ok) {
      let reason = response.statusText;
      try { reason = (await response.json()).error.reason; } catch (ignored) { /* not JSON */ }
      throw new Error(response.status + " " + reason);
    }
    const obj = JSROOT.parse(await response.text());
    return { obj, etag: unquote(response.headers.get("ETag")) };
  }

  // Functions that cannot be drawn without eval (functions.js) are named under the drawing.
  function noteUndrawn(frame, names) {
    const card = frame.closest(".hist-card");
    let note = card ? card.querySelector(".draw-note") : null;
    if (!names.length) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "draw-note";
      (card ? card.querySelector(".hist-body") || frame : frame).after(note);
    }
    note.textContent = OverwatchFunctions.describe(names);
  }

  // True when the object can be drawn; its undrawable functions are taken out and named.
  // A function that cannot be drawn itself is named in the frame instead.
  function prepared(frame, obj) {
    const { drawable, undrawn } = OverwatchFunctions.prepare(obj);
    if (drawable) {
      noteUndrawn(frame, undrawn);
    } else {
      frame.dataset.drawn = "undrawable";
      showError(frame, OverwatchFunctions.describe(undrawn));
    }
    return drawable;
  }

  async function drawOne(frame) {
    try {
      const got = await fetchObject(frame, null);
      etags.set(frame, got.etag);
      if (!prepared(frame, got.obj)) return;
      frame.textContent = "";
      await JSROOT.draw(frame, got.obj, drawOptions(frame, got.obj));
      frame.dataset.drawn = "yes";
    } catch (err) {
      frame.dataset.drawn = "error";
      showError(frame, "Could not draw: " + err.message);
    }
  }

  async function drawAll() {
    const queue = frames.slice();
    const workers = [];
    for (let i = 0; i < CONCURRENT; i++) {
      workers.push((async () => { while (queue.length) await drawOne(queue.shift()); })());
    }
    await Promise.all(workers);
    section.dataset.drawn = "all";
  }

  // The last change stays on show until the next one: a shifter glancing at the page
  // sees when the histograms last moved, not only whether the latest poll found news.
  let lastChange = "";
  async function refresh() {
    let changed = 0;
    for (const frame of frames) {
      if (frame.dataset.drawn !== "yes") continue;
      try {
        const got = await fetchObject(frame, etags.get(frame));
        if (got === null || !prepared(frame, got.obj)) continue;
        if (frame.dataset.view && frame.dataset.view !== "plain") {
          // Shown with its reference (reference.js): that view is redrawn with the new object.
          frame.dispatchEvent(new CustomEvent("overwatch:object", { detail: got.obj, bubbles: true }));
        } else {
          await JSROOT.redraw(frame, got.obj, drawOptions(frame, got.obj));
        }
        etags.set(frame, got.etag);
        changed += 1;
      } catch (err) {
        console.warn("live refresh of", frame.dataset.url, "failed:", err.message);
      }
    }
    const note = document.getElementById("livenote");
    const now = new Date().toLocaleTimeString();
    if (changed) lastChange = ", " + changed + " updated at " + now;
    if (note) note.textContent = "live: checked " + now + (lastChange || ", no change");
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const frame of frames) if (frame.dataset.drawn === "yes") JSROOT.resize(frame); }, 200);
  });

  drawAll().then(() => {
    const seconds = parseFloat(section.dataset.live || "0");
    if (seconds > 0) setInterval(refresh, seconds * 1000);
  });
})();
