// Progressive enhancement only: every page works without this file.
// - [data-expires]: a live countdown to an RFC 3339 instant.
// - [data-copy]: a button that copies the text of the element it names.
// - form[data-preview]: asks the console for the decision as the form is filled in.
// - [data-reload]: work is going on in the background; look again after that many seconds.
(function () {
  "use strict";

  function left(ms) {
    if (ms <= 0) { return "ended"; }
    var s = Math.floor(ms / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h > 0 ? h + "h " : "") + (h > 0 || m > 0 ? m + "m " : "") + r + "s left";
  }

  function tick() {
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-expires"));
      if (!isNaN(at)) { el.textContent = left(at - Date.now()); }
    });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }

  function previews() {
    document.querySelectorAll("form[data-preview]").forEach(function (form) {
      var target = document.getElementById(form.getAttribute("data-preview"));
      var timer = null;
      function ask() {
        var body = new URLSearchParams(new FormData(form));
        fetch(form.getAttribute("data-preview-url"), {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { "Accept": "text/html" }
        }).then(function (r) { return r.text(); }).then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var part = doc.getElementById(target.id);
          if (part) { target.replaceChildren.apply(target, Array.from(part.childNodes)); }
        });
      }
      form.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(ask, 400);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    copyButtons();
    previews();
    var reload = document.querySelector("[data-reload]");
    if (reload) {
      setTimeout(function () { window.location.reload(); },
        1000 * (parseInt(reload.getAttribute("data-reload"), 10) || 3));
    }
  });
})();
