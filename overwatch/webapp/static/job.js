// Job page: follow a time slice or reprocessing until it is done, then open its result.
"use strict";

(function () {
  const box = document.getElementById("job");
  if (!box) return;
  const stateEl = document.getElementById("job-state");
  const message = document.getElementById("job-message");
  const errorEl = document.getElementById("job-error");
  const progress = document.getElementById("job-progress");

  function show(job) {
    stateEl.textContent = job.state;
    stateEl.className = "state state-" + job.state;
    box.dataset.state = job.state;
    if (job.error) { errorEl.hidden = false; errorEl.textContent = job.error; }
  }

  async function poll() {
    try {
      const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      const job = await response.json();
      show(job);
      if (job.state === "done" && job.result_id) {
        message.textContent = "Done. Opening the result…";
        progress.classList.add("done");
        const target = new URL(box.dataset.runPage, window.location.href);
        target.searchParams.set("result", job.result_id);
        window.location.assign(target.toString());
        return;
      }
      if (job.state === "done") { message.textContent = "Done (nothing to show: the run had no files)."; progress.classList.add("done"); return; }
      if (job.state === "failed") { message.textContent = "The job failed."; progress.classList.add("done"); return; }
      if (job.state === "superseded") { message.textContent = "Superseded: the same work was queued again and is done by a newer job."; progress.classList.add("done"); return; }
      message.textContent = job.state === "running" ? "Processing…" : "Queued; waiting for the processing daemon…";
    } catch (err) {
      message.textContent = "Cannot reach the server (" + err.message + "); retrying…";
    }
    setTimeout(poll, 1000);
  }

  if (box.dataset.state === "queued" || box.dataset.state === "running") poll();
})();
