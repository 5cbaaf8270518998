// Live preview of the issue draft: after typing stops, the Markdown is rendered by the server
// (POST /admin/preview) and shown as subscribers will see it. Without JavaScript the "Preview"
// button does the same with a page load.
(function () {
  "use strict";
  var form = document.getElementById("draft");
  if (!form) return;
  var source = form.querySelector("textarea[name=source]");
  var csrf = form.querySelector("input[name=csrf]").value;
  var frames = document.querySelectorAll("iframe.live");
  var text = document.getElementById("preview-text");
  var problem = document.getElementById("preview-error");
  var timer = null;
  function render() {
    var body = new URLSearchParams({ csrf: csrf, source: source.value });
    fetch("/admin/preview", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        problem.hidden = !p.error;
        problem.textContent = p.error || "";
        if (p.error) return;
        frames.forEach(function (f) { f.srcdoc = p.html; });
        text.textContent = p.text;
      })
      .catch(function () {});
  }
  source.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(render, 600);
  });
})();
