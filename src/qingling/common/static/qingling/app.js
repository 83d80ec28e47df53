// Behaviour that would otherwise be inline script (the Content-Security-Policy allows
// only the app's own script files): a <select data-autosubmit> submits its form on change.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLSelectElement && el.dataset.autosubmit !== undefined && el.form) {
    el.form.submit();
  }
});
