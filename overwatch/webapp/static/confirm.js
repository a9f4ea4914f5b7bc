// Forms with data-confirm="question" ask before they submit. The question is data
// read from an attribute, never code: no inline onsubmit handlers (the
// Content-Security-Policy forbids them), so a user name cannot break out into script.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});
