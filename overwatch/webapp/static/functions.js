// Functions (TF1, TF2, TF3) drawn without eval. JSROOT draws a function either from the
// points saved in its fSave member or by compiling its formula with new Function, which
// the pages' Content-Security-Policy refuses (no 'unsafe-eval'). ROOT saves points for
// fitted functions; processing adds them to formula functions it can evaluate safely
// (overwatch/processing/saved_points.py). Here, before an object is drawn:
// - JSROOT is told to prefer saved points (settings.PreferSavedPoints);
// - each TF1 with points gets an evalPar that interpolates them (as ROOT's TF1::Eval does
//   on saved points), because a histogram's axis scan asks its fit for values through
//   evalPar and would otherwise compile the formula;
// - functions without points are taken out of the lists they are in (a histogram's
//   fFunctions, a canvas's primitives) and their names returned, so the card can say
//   they were not drawn instead of the browser reporting a refused eval.
"use strict";

(function () {
  if (typeof JSROOT === "undefined") return;
  JSROOT.settings.PreferSavedPoints = true;

  const FUNCTION = /^TF[123]$/;

  // fSave of a 1D function: values at fNpx + 1 equidistant x, then xmin and xmax.
  function interpolate(save, x) {
    const np = save.length - 3;
    const xmin = save[np + 1];
    const xmax = save[np + 2];
    if (!(xmax > xmin)) return save[0];
    if (x <= xmin) return save[0];
    if (x >= xmax) return save[np];
    const dx = (xmax - xmin) / np;
    const bin = Math.min(np - 1, Math.floor((x - xmin) / dx));
    const xlow = xmin + bin * dx;
    return save[bin] + (save[bin + 1] - save[bin]) * (x - xlow) / dx;
  }

  // Inherited, not own: JSROOT deletes a function's own evalPar when it updates the object.
  const SAVED_TF1 = { evalPar(x) { return interpolate(this.fSave, x); } };

  function hasPoints(obj) {
    return obj.fSave != null && obj.fSave.length > 3;
  }

  function isFunction(obj) {
    return obj !== null && typeof obj === "object" && FUNCTION.test(obj._typename || "");
  }

  // Returns the names of the functions in `obj` that cannot be drawn without eval
  // (`obj` itself included); those inside lists are removed from them.
  function prepare(obj) {
    const undrawn = [];
    const seen = new Set();
    function visit(value) {
      if (value === null || typeof value !== "object" || seen.has(value)) return;
      seen.add(value);
      if (isFunction(value) && hasPoints(value) && value._typename === "TF1") {
        Object.setPrototypeOf(value, SAVED_TF1);
      }
      if (Array.isArray(value.arr)) {
        const keep = [];
        value.arr.forEach((item, index) => {
          if (isFunction(item) && !hasPoints(item)) undrawn.push(item.fName || item._typename);
          else keep.push(index);
        });
        if (keep.length !== value.arr.length) {
          if (Array.isArray(value.opt)) value.opt = keep.map((index) => value.opt[index]);
          value.arr = keep.map((index) => value.arr[index]);
        }
      }
      for (const key of Object.keys(value)) {
        const member = value[key];
        if (member !== null && typeof member === "object" && !ArrayBuffer.isView(member)) visit(member);
      }
    }
    if (isFunction(obj) && !hasPoints(obj)) return { drawable: false, undrawn: [obj.fName || obj._typename] };
    visit(obj);
    return { drawable: true, undrawn };
  }

  // The names of the functions in `obj` (itself included) that have no saved points,
  // without changing anything: the file view then asks the server for the object as
  // processing stores it, with points computed where the formula allows.
  function missing(obj) {
    const names = [];
    const seen = new Set();
    (function visit(value) {
      if (value === null || typeof value !== "object" || ArrayBuffer.isView(value) || seen.has(value)) return;
      seen.add(value);
      if (isFunction(value) && !hasPoints(value)) names.push(value.fName || value._typename);
      for (const key of Object.keys(value)) visit(value[key]);
    })(obj);
    return names;
  }

  function describe(names) {
    const list = names.map((name) => "“" + name + "”").join(", ");
    return "Not drawn: function " + list + " (no saved points in the file, and a formula that is " +
      "only evaluated by running code, which this page does not allow).";
  }

  window.OverwatchFunctions = { prepare, missing, describe };
})();
