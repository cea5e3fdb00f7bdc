// deskdraft review console: keyboard shortcuts (listed on every page). No build step, no
// dependencies. Keys act only when focus is not in a text field, except Escape (leave the field)
// and Ctrl/Cmd+Enter in the reply editor (approve).
(function () {
  "use strict";
  var page = document.body.dataset.page;
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function follow(id) {
    var link = document.getElementById(id);
    if (link && link.href) { window.location.href = link.href; return true; }
    return false;
  }
  function focusEnd(field) {
    if (!field) return false;
    field.focus();
    if (typeof field.setSelectionRange === "function" && field.value !== undefined) {
      var end = field.value.length;
      field.setSelectionRange(end, end);
    }
    return true;
  }
  function submit(form) {
    if (!form) return false;
    if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
    return true;
  }
  function moveRow(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("a.row-link"));
    if (!links.length) return false;
    var current = links.indexOf(document.activeElement);
    var next = current < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, current + step));
    links.forEach(function (l) { l.closest("tr").classList.remove("current"); });
    links[next].closest("tr").classList.add("current");
    links[next].focus();
    return true;
  }

  // Enter in a filter's select applies the filters (a select alone does not submit its form).
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.tagName === "SELECT" && target.form && target.form.id === "filters") {
      event.preventDefault();
      submit(target.form);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey) return;
    var target = event.target;
    if (event.key === "Escape" && typing(target)) { target.blur(); event.preventDefault(); return; }
    if (page === "draft" && event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.id === "reply-text") {
      event.preventDefault();
      submit(document.getElementById("approve-form"));
      return;
    }
    if (event.ctrlKey || event.metaKey || typing(target)) return;
    var handled = false;
    switch (event.key) {
      case "/": handled = focusEnd(document.getElementById("search")); break;
      case "f": handled = focusEnd(document.getElementById("filter-product")); break;
      case "g": handled = follow("nav-queue"); break;
      case "l": handled = follow("nav-lead"); break;
    }
    if (!handled && page === "queue") {
      switch (event.key) {
        case "j": case "ArrowDown": handled = moveRow(1); break;
        case "k": case "ArrowUp": handled = moveRow(-1); break;
        case "o": if (document.activeElement && document.activeElement.classList.contains("row-link")) { handled = follow(document.activeElement.id); } else { handled = moveRow(1) && follow(document.activeElement.id); } break;
        case "]": handled = follow("page-next"); break;
        case "[": handled = follow("page-previous"); break;
      }
    }
    if (!handled && page === "draft") {
      switch (event.key) {
        case "j": case "n": handled = follow("draft-next"); break;
        case "k": case "p": handled = follow("draft-previous"); break;
        case "e": handled = focusEnd(document.getElementById("reply-text")); break;
        case "a": handled = submit(document.getElementById("approve-form")); break;
        case "r": handled = focusEnd(document.getElementById("reject-reason")); break;
        case "q": case "u": handled = follow("back-to-queue"); break;
      }
    }
    if (handled) event.preventDefault();
  });

  // The queue remembers where the agent was: the row of the draft they came back from.
  if (page === "queue") {
    var from = document.body.dataset.from;
    var row = from && document.getElementById("row-" + from);
    if (row) { row.classList.add("current"); row.focus(); }
  }
})();
