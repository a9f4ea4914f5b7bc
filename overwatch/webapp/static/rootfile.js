// ROOT file view: JSROOT's own file browser reads the received file from the server
// with HTTP range requests, so objects processing could not convert are visible too.
"use strict";

(async function () {
  const box = document.getElementById("rootfile");
  if (!box) return;
  const tree = document.getElementById("rootfile-tree");
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
  try {
    const browser = new JSROOT.HierarchyPainter("rootfile", "rootfile-tree");
    browser.setDisplay("simple", "rootfile-draw");
    tree.textContent = "";
    await browser.openRootFile(new URL(box.dataset.url, window.location.href).toString());
    box.dataset.opened = "yes";
  } catch (err) {
    box.dataset.opened = "error";
    tree.textContent = "Could not open the file: " + err.message;
  }
})();
