// ROOT file view: JSROOT's own file browser reads the received file from the server
// with HTTP range requests, so objects processing could not convert are visible too.
// A function the file saved without points (a formula TF1, alone or attached to a
// histogram) would be drawn by compiling its formula (new Function), which the CSP
// refuses; such an object is drawn from the server's copy instead, read and given
// saved points exactly as processing does for the run pages (functions.js).
"use strict";

(async function () {
  const box = document.getElementById("rootfile");
  if (!box) return;
  const tree = document.getElementById("rootfile-tree");
  const area = document.getElementById("rootfile-draw");
  if (typeof JSROOT === "undefined") { tree.textContent = "JSROOT is not available; see the banner above."; return; }
  // The server answers one range per request (Werkzeug); asking for many at once would fail.
  JSROOT.settings.MaxRanges = 1;
  // JSROOT's progress box ("Loading <item name> ...") writes the name of the clicked
  // object as HTML: a histogram named x<img src=x onerror=...> would run its script.
  // Names in the file are data from outside, so the box stays off (the tree itself
  // shows names as text).
  JSROOT.settings.ProgressBox = false;
  // Functions from their saved points where the file has them, not by compiling their
  // formula (new Function), which the CSP refuses; see functions.js for the run pages.
  JSROOT.settings.PreferSavedPoints = true;

  // The object's path in the file as processing names it: key names without cycles,
  // joined by "/" (list members by their own names).
  function pathInFile(item) {
    const parts = [];
    for (let node = item; node && !node._file; node = node._parent) {
      parts.unshift(node._keyname !== undefined ? node._keyname : node._name);
    }
    return parts.join("/");
  }

  async function serverCopy(item) {
    const url = new URL(box.dataset.objects, window.location.href);
    url.searchParams.set("name", pathInFile(item));
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return null;
    return JSROOT.parse(await response.text());
  }

  const noteBox = document.getElementById("rootfile-note");
  function note(text) {
    noteBox.textContent = text;
    noteBox.hidden = !text;
  }

  try {
    const browser = new JSROOT.HierarchyPainter("rootfile", "rootfile-tree");
    browser.setDisplay("simple", "rootfile-draw");
    // Every object the browser draws passes here; expanding the tree is left alone.
    const read = browser.getObject.bind(browser);
    browser.getObject = async (arg, options) => {
      const result = await read(arg, options);
      const expanding = typeof options === "string" && options.startsWith("hierarchy_expand");
      if (!result.obj || expanding || typeof OverwatchFunctions === "undefined") return result;
      note("");
      if (OverwatchFunctions.missing(result.obj).length && result.item) {
        const copy = await serverCopy(result.item).catch(() => null);
        if (copy) result.obj = copy;
        // JSROOT keeps what it read for the next click: read again then, so the note comes back.
        result.item._readobj = null;
      }
      // Saved points are interpolated and functions still without them left out (functions.js).
      const { drawable, undrawn } = OverwatchFunctions.prepare(result.obj);
      if (undrawn.length) note(OverwatchFunctions.describe(undrawn));
      if (!drawable) {
        JSROOT.cleanup(area);
        result.obj = null;
      }
      return result;
    };
    tree.textContent = "";
    await browser.openRootFile(new URL(box.dataset.url, window.location.href).toString());
    box.dataset.opened = "yes";
  } catch (err) {
    box.dataset.opened = "error";
    tree.textContent = "Could not open the file: " + err.message;
  }
})();
