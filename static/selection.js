// The My Numbers selection (batch.md §1): row checkboxes, shift-click ranges, the page box, "all
// matching", the selection bar and the batch dialog. State lives in sessionStorage, so it belongs to
// this tab and survives paging, sorting and filtering; every table swap is re-ticked from it.
(function () {
  "use strict";

  var KEY = "did.numbers.selection";
  var MAX_EXPLICIT = 10000;
  var ROW_BOX = "tbody > tr > td:first-child > input[type=checkbox]";  // each row's first cell
  var LIMIT_MESSAGE = "Select at most 10,000 rows one by one; use 'Select all matching' for more.";
  // mode "ids": the rows picked one by one; mode "filter": every number the query `filter` matches
  var state = load();
  var selected = new Set(state.ids);
  var lastIndex = null;   // the row box clicked last, the anchor of a shift-click range
  var notice = "";        // a one-off message for the banner (the 10,000 limit)
  var pendingUrl = null;  // the batch dialog's URL while its fragment loads

  function empty() { return {mode: "ids", ids: [], filter: "", filterKey: "", total: 0}; }
  function load() {
    try {
      var s = JSON.parse(sessionStorage.getItem(KEY));
      if (s && (s.mode === "ids" || s.mode === "filter") && Array.isArray(s.ids)) return s;
    } catch (e) { /* unreadable: start empty */ }
    return empty();
  }
  function save() {
    state.ids = Array.from(selected);
    try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* storage full or off */ }
  }
  function clearSelection() {
    state = empty(); selected = new Set(); notice = ""; save(); render();
  }

  function view() { return document.getElementById("numbers-table"); }
  function rowBoxes() {
    var v = view();
    return v ? Array.prototype.slice.call(v.querySelectorAll(ROW_BOX)) : [];
  }
  function count() { return state.mode === "filter" ? state.total : selected.size; }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }

  // ---- what a batch or export of the selection asks for (the agreed /batches/new parameters)
  function selectionQuery() {
    return state.mode === "filter" ? "filter=" + encodeURIComponent(state.filter)
                                   : "ids=" + Array.from(selected).join(",");
  }
  function actionUrl(bar, code) {
    if (code === "export") {
      if (state.mode === "filter") return bar.dataset.exportUrl + "?" + state.filter;
      var v = view(), sort = v ? new URLSearchParams(v.dataset.filter).get("sort") : null;
      return bar.dataset.exportUrl + "?ids=" + Array.from(selected).join(",") +
        (sort ? "&sort=" + encodeURIComponent(sort) : "");
    }
    return bar.dataset.batchUrl + "?action=" + encodeURIComponent(code) + "&" + selectionQuery();
  }

  // ---- drawing the state onto the page
  function render() {
    var v = view(), boxes = rowBoxes();
    boxes.forEach(function (b) { b.checked = state.mode === "filter" || selected.has(Number(b.value)); });
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    var pageBox = document.getElementById("select-page");
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && ticked === boxes.length;
      pageBox.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    renderBanner(v, boxes.length, ticked);
    renderBar();
  }

  function renderBanner(v, onPage, ticked) {
    var banner = document.getElementById("selection-banner");
    if (!banner) return;
    banner.textContent = "";
    var total = v ? Number(v.dataset.total) : 0;
    if (notice) {
      banner.append(notice);
    } else if (state.mode === "filter") {
      banner.append("All " + fmt(state.total) + " matching numbers are selected. ");
      banner.append(linkButton("Clear selection", "clear"), ".");
    } else if (onPage > 0 && ticked === onPage && total > onPage) {
      banner.append("All " + fmt(onPage) + " on this page are selected. ");
      banner.append(linkButton("Select all " + fmt(total) + " matching this filter", "all"), ".");
    }
    banner.hidden = banner.textContent === "";
  }
  function linkButton(text, what) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "linklike"; b.textContent = text; b.dataset.selectionBanner = what;
    return b;
  }

  function renderBar() {
    var bar = document.getElementById("batch-bar");
    if (!bar) return;
    var n = count();
    bar.hidden = n === 0;
    bar.querySelector("[data-selection-count]").textContent = fmt(n);
    if (n === 0) return;
    bar.querySelectorAll("a[data-batch-action]").forEach(function (a) {
      a.href = actionUrl(bar, a.dataset.batchAction);
    });
  }

  // After any swap: a filter-mode selection means "what this filter matches", so a different filter
  // is a different set; it is cleared rather than silently re-aimed (the preview freezes the set it
  // was shown, batch.md §1). Explicit ids are kept across filters, sorting and paging.
  function sync() {
    var v = view();
    if (state.mode === "filter" && v) {
      if (v.dataset.filterKey !== state.filterKey) { clearSelection(); return; }
      state.total = Number(v.dataset.total);  // an inline edit may have moved rows in or out
      state.filter = v.dataset.filter;        // same filter, perhaps another sort
      save();
    }
    lastIndex = null;
    render();
  }

  // ---- choosing rows
  function addIds(ids) {
    var fresh = ids.filter(function (id) { return !selected.has(id); });
    if (selected.size + fresh.length > MAX_EXPLICIT) { notice = LIMIT_MESSAGE; return false; }
    fresh.forEach(function (id) { selected.add(id); });
    return true;
  }
  function leaveFilterMode(boxes) {
    // unticking one row of "all matching" keeps the page's other rows, picked one by one
    state.mode = "ids"; state.filter = state.filterKey = ""; state.total = 0;
    selected = new Set(boxes.map(function (b) { return Number(b.value); }));
  }

  function onRowBox(evt, box) {
    var boxes = rowBoxes(), index = boxes.indexOf(box), on = box.checked;
    var range = [box];
    if (evt.shiftKey && lastIndex !== null && boxes[lastIndex]) {
      range = boxes.slice(Math.min(lastIndex, index), Math.max(lastIndex, index) + 1);
    }
    notice = "";
    if (state.mode === "filter" && !on) leaveFilterMode(boxes);
    var ids = range.map(function (b) { return Number(b.value); });
    if (on) addIds(ids); else ids.forEach(function (id) { selected.delete(id); });
    lastIndex = index;
    save(); render();
  }

  function onPageBox(box) {
    var ids = rowBoxes().map(function (b) { return Number(b.value); });
    notice = "";
    if (state.mode === "filter") {
      if (!box.checked) clearSelection();
      return;
    }
    if (box.checked) addIds(ids); else ids.forEach(function (id) { selected.delete(id); });
    save(); render();
  }

  function selectAllMatching() {
    var v = view();
    if (!v) return;
    state = {mode: "filter", ids: [], filter: v.dataset.filter, filterKey: v.dataset.filterKey,
             total: Number(v.dataset.total)};
    selected = new Set(); notice = "";
    save(); render();
  }

  // ---- menus and the batch dialog
  function closeMenus(except) {
    document.querySelectorAll("details.row-menu[open], details.bar-menu[open]").forEach(function (d) {
      if (d !== except) d.open = false;
    });
  }

  // A row carries only the codes of its actions; the links come from the page's one <template>,
  // with the row's id and digits put in place of the placeholders.
  function buildRowMenu(menu) {
    var tpl = document.getElementById("row-action-items"), row = menu.closest("tr");
    if (menu.querySelector("ul") || !tpl || !row) return;
    var idMark = tpl.dataset.idPlaceholder, digitsMark = tpl.dataset.digitsPlaceholder;
    var pattern = tpl.content.querySelector('[data-code="details"] a').getAttribute("href").split(digitsMark);
    var detail = row.querySelector(".col-number a").getAttribute("href");
    var digits = detail.slice(pattern[0].length, detail.length - pattern[1].length);
    var id = row.id.replace("number-", "");
    var list = document.createElement("ul");
    var codes = ["details"].concat((menu.dataset.actions || "").split(" ").filter(Boolean), ["history"]);
    codes.forEach(function (code) {
      var item = tpl.content.querySelector('[data-code="' + code + '"]');
      if (!item) return;
      item = item.cloneNode(true);
      var a = item.querySelector("a");
      a.setAttribute("href", a.getAttribute("href").replace(idMark, id).replace(digitsMark, digits));
      list.appendChild(item);
    });
    menu.appendChild(list);
  }
  document.addEventListener("toggle", function (evt) {  // toggle does not bubble: caught on the way down
    var menu = evt.target;
    if (menu.matches && menu.matches("details.row-menu") && menu.open) buildRowMenu(menu);
  }, true);

  // a URL longer than this goes as a form body: request lines over 4 KB are refused (~500 ids)
  var LONGEST_URL = 2000;

  function postInstead(url) {  // the same request as a POST form (the page's CSRF token included)
    var parts = url.split("?"), form = document.createElement("form");
    form.setAttribute("method", "post");
    form.setAttribute("action", parts[0]);
    form.hidden = true;
    var token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    var fields = new URLSearchParams(parts[1] || "");
    if (token) fields.append("csrf_token", token);
    fields.forEach(function (value, name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    });
    document.body.appendChild(form);
    return form;
  }

  function openDialog(url) {
    var dialog = document.getElementById("batch-dialog"), body = document.getElementById("batch-dialog-body");
    var long = url.length > LONGEST_URL;
    if (!window.htmx || !dialog || !body || typeof dialog.showModal !== "function") {
      if (long) postInstead(url).submit(); else window.location.href = url;
      return;
    }
    pendingUrl = url;
    if (long) {
      var form = postInstead(url), values = {};
      new FormData(form).forEach(function (value, name) { values[name] = value; });
      form.remove();
      // url's path, not form.action: the field named "action" shadows that property
      htmx.ajax("POST", url.split("?")[0], {source: body, target: body, swap: "innerHTML", values: values});
    } else {
      htmx.ajax("GET", url, {source: body, target: body, swap: "innerHTML"});
    }
  }
  function dialogLoadFailed(evt) {
    // the fragment did not come: the same URL as a full page still works
    if (pendingUrl && evt.detail.elt && evt.detail.elt.id === "batch-dialog-body") {
      var url = pendingUrl;
      pendingUrl = null;
      if (url.length > LONGEST_URL) postInstead(url).submit(); else window.location.href = url;
    }
  }

  document.addEventListener("click", function (evt) {
    var t = evt.target;
    if (!t.closest) return;
    if (t.matches("#numbers-table " + ROW_BOX)) return onRowBox(evt, t);
    if (t.id === "select-page") return onPageBox(t);
    var bannerBtn = t.closest("[data-selection-banner]");
    if (bannerBtn) return bannerBtn.dataset.selectionBanner === "all" ? selectAllMatching() : clearSelection();
    if (t.closest("[data-selection-clear]")) return clearSelection();
    if (t.closest("[data-dialog-close]")) return document.getElementById("batch-dialog").close();
    var exportLink = t.closest("a[data-batch-action=export]");
    if (exportLink && exportLink.href.length > LONGEST_URL && !(evt.ctrlKey || evt.metaKey || evt.button !== 0)) {
      // rows picked one by one past the URL limit: the same export as a POST (the CSV downloads)
      evt.preventDefault();
      closeMenus(null);
      var bar = document.getElementById("batch-bar"), form = postInstead(
        bar.dataset.longExportUrl + "?" + exportLink.href.split("?")[1]);
      form.submit();
      setTimeout(function () { form.remove(); }, 1000);  // the page stays: don't pile up forms
      return;
    }
    var link = t.closest("a[data-batch-dialog]");
    if (link && !(evt.ctrlKey || evt.metaKey || evt.shiftKey || evt.button !== 0)) {
      evt.preventDefault();
      closeMenus(null);
      openDialog(link.href);
      return;
    }
    closeMenus(t.closest("details.row-menu, details.bar-menu"));  // a click elsewhere closes menus
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || !evt.target.closest) return;
    var menu = evt.target.closest("details.row-menu[open], details.bar-menu[open]");
    if (menu) {
      evt.preventDefault();
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var dialog = document.getElementById("batch-dialog");
    if (pendingUrl && evt.detail.target && evt.detail.target.id === "batch-dialog-body") {
      pendingUrl = null;
      if (!dialog.open) dialog.showModal();
    }
  });
  document.addEventListener("htmx:responseError", dialogLoadFailed);
  document.addEventListener("htmx:sendError", dialogLoadFailed);
  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:historyRestore", sync);
  // the batch dialog's answer after an apply (HX-Trigger: batchApplied): the set is spent
  document.addEventListener("batchApplied", function () {
    clearSelection();
    var dialog = document.getElementById("batch-dialog");
    if (dialog && dialog.open) dialog.close();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sync);
  else sync();
})();
