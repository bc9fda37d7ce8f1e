/* The export page's "Select all" box, wired without an inline handler (the admin's CSP allows only
   scripts served by the app). onSelectToggleChange comes from django-import-export's own script. */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input.select-toggle").forEach((toggle) => {
    toggle.addEventListener("change", (event) => onSelectToggleChange(event));
  });
});
