// The few behaviours attributes cannot express. No inline script anywhere (CSP: script-src 'self').
(function () {
  "use strict";

  // A paste too long for a URL is POSTed once and stored as a saved list (numbers.md §7.6).
  var MAX_GET_CHARS = 2000, MAX_GET_ITEMS = 100;
  function tooLongForUrl(text) {
    if (!text) return false;
    return text.length > MAX_GET_CHARS || text.split(/[\n\r,;\t]+/).filter(Boolean).length > MAX_GET_ITEMS;
  }
  document.addEventListener("htmx:configRequest", function (evt) {
    var form = evt.detail.elt;
    if (!form || form.id !== "filters") return;
    var q = form.querySelector("[name=q]");
    if (q && tooLongForUrl(q.value)) {
      evt.detail.verb = "post";
      evt.detail.path = form.dataset.postUrl;
      evt.detail.useUrlParams = false;
    }
  });
  // Without htmx (or before it loads) the same rule applies to the plain form submit.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.id !== "filters" || window.htmx) return;
    var q = form.querySelector("[name=q]");
    if (q && tooLongForUrl(q.value)) { form.method = "post"; form.action = form.dataset.postUrl; }
  }, true);

  // Enter submits the search; Shift+Enter adds a line. The box grows with its content.
  document.addEventListener("keydown", function (evt) {
    var t = evt.target;
    if (t.id === "q" && evt.key === "Enter" && !evt.shiftKey) {
      evt.preventDefault();
      t.form.requestSubmit();
    }
    if (evt.key === "Escape") {  // Escape cancels an inline edit
      var editor = t.closest && t.closest("[data-editor]");
      var cancel = editor && editor.querySelector("[data-cancel]");
      // a request of our own, not cancel.click(): right after a 422 swap htmx may not have
      // processed the new Cancel button yet, and a click on it would do nothing
      if (cancel) {
        evt.preventDefault();
        htmx.ajax("GET", cancel.getAttribute("hx-get"), {target: cancel.closest("tr"), swap: "outerHTML"});
      }
    }
  });
  function grow(t) { t.style.height = "auto"; t.style.height = Math.min(t.scrollHeight, 240) + "px"; }
  document.addEventListener("input", function (evt) { if (evt.target.id === "q") grow(evt.target); });
  document.addEventListener("DOMContentLoaded", function () {
    var q = document.getElementById("q");
    if (q && q.value) grow(q);
  });

  // Keep the filter panel open across table swaps.
  var panelOpen = false;
  document.addEventListener("htmx:beforeSwap", function () {
    var p = document.getElementById("filter-panel");
    panelOpen = !!(p && p.open);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var p = document.getElementById("filter-panel");
    if (p && panelOpen) p.open = true;
    var q = document.getElementById("q");
    if (q && q.value) grow(q);
  });

  // "Copy" buttons in the search report.
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("button[data-copy]");
    if (!btn) return;
    var text = btn.getAttribute("data-copy");
    var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    }
  });
})();
