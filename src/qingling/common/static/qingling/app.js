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

// Evidence photos: a thumbnail opens the picture in a lightbox over the page. Esc closes it,
// the arrow keys move to the previous or next photo of the same group.
const lightboxLinks = (group) =>
  [...document.querySelectorAll(`a[data-lightbox="${group}"]`)];
let lightbox = null;
const lightboxShow = (link) => {
  const links = lightboxLinks(link.dataset.lightbox);
  const index = links.indexOf(link);
  if (!lightbox) {
    lightbox = document.createElement("div");
    lightbox.className = "lightbox";
    lightbox.setAttribute("role", "dialog");
    lightbox.setAttribute("aria-modal", "true");
    const labels = document.body.dataset;
    lightbox.innerHTML =
      '<figure><img alt=""><figcaption></figcaption></figure>' +
      '<button type="button" class="lb-prev"></button>' +
      '<button type="button" class="lb-next"></button>' +
      '<button type="button" class="lb-close"></button>';
    lightbox.querySelector(".lb-prev").textContent = labels.lbPrev || "‹";
    lightbox.querySelector(".lb-next").textContent = labels.lbNext || "›";
    lightbox.querySelector(".lb-close").textContent = labels.lbClose || "×";
    lightbox.addEventListener("click", (event) => {
      const t = event.target;
      if (t === lightbox || t.classList.contains("lb-close")) lightboxClose();
      else if (t.classList.contains("lb-prev")) lightboxMove(-1);
      else if (t.classList.contains("lb-next")) lightboxMove(1);
    });
    document.body.appendChild(lightbox);
  }
  lightbox.dataset.group = link.dataset.lightbox;
  lightbox.dataset.index = String(index);
  const img = lightbox.querySelector("img");
  img.src = link.href;
  img.alt = link.dataset.caption || "";
  lightbox.querySelector("figcaption").textContent =
    `${link.dataset.caption || ""} (${index + 1}/${links.length})`;
  lightbox.hidden = false;
  lightbox.querySelector(".lb-close").focus();
};
const lightboxClose = () => {
  if (!lightbox || lightbox.hidden) return;
  const links = lightboxLinks(lightbox.dataset.group);
  lightbox.hidden = true;
  const back = links[Number(lightbox.dataset.index)];
  if (back) back.focus();
};
const lightboxMove = (step) => {
  const links = lightboxLinks(lightbox.dataset.group);
  const next = (Number(lightbox.dataset.index) + step + links.length) % links.length;
  lightboxShow(links[next]);
};
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element && event.target.closest("a[data-lightbox]");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    lightboxShow(link);
  }
});
document.addEventListener("keydown", (event) => {
  if (!lightbox || lightbox.hidden) return;
  if (event.key === "Escape") lightboxClose();
  else if (event.key === "ArrowLeft") lightboxMove(-1);
  else if (event.key === "ArrowRight") lightboxMove(1);
});
