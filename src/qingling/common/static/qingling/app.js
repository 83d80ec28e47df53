// Behaviour that would otherwise be inline script (the Content-Security-Policy allows
// only the app's own script files): a <select data-autosubmit> submits its form on change.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLSelectElement && el.dataset.autosubmit !== undefined && el.form) {
    el.form.submit();
  }
});

// A background job's page follows its progress (GET status.json each second) and shows
// the result when the job ends. Without script, a <noscript> refresh does the same.
const jobBox = document.querySelector("[data-job-status]");
if (jobBox) {
  const url = jobBox.dataset.jobStatus;
  const follow = async () => {
    try {
      const resp = await fetch(url, { credentials: "same-origin" });
      if (resp.ok) {
        const s = await resp.json();
        if (s.finished) {
          window.location.reload();
          return;
        }
        document.getElementById("job-state").textContent = s.state_label;
        document.getElementById("job-stage").textContent = s.stage;
        const bar = document.getElementById("job-progress");
        if (s.percent !== null) {
          bar.value = s.percent;
          bar.textContent = `${s.percent}%`;
        }
        document.getElementById("job-count").textContent = s.total ? `${s.done} / ${s.total}` : "";
      }
    } catch (e) {
      // the server restarting: try again on the next tick
    }
    window.setTimeout(follow, 1000);
  };
  window.setTimeout(follow, 1000);
}
// A table's "select all" box ticks every row box of its table.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLInputElement && el.dataset.selectAll !== undefined) {
    const table = el.closest("table");
    if (table) {
      for (const box of table.querySelectorAll("tbody input[type=checkbox][name=ids]")) {
        box.checked = el.checked;
      }
    }
  }
});

// A form or button marked data-confirm asks before an irreversible move (销号, 排除, the
// close of a week); the question is the attribute's (translated) text.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || (form && form.dataset && form.dataset.confirm);
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
