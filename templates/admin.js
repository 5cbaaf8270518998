// Live preview of the issue draft: after typing stops, the draft is rendered by the server
// (POST /admin/preview) and shown as subscribers will see it. Without JavaScript the "Preview"
// button does the same with a page load.
(function () {
  "use strict";
  var form = document.getElementById("draft");
  if (!form) return;
  var frames = document.querySelectorAll("iframe.live");
  var text = document.getElementById("preview-text");
  var problem = document.getElementById("preview-error");
  var warnings = document.getElementById("preview-warnings");
  var timer = null;
  function render() {
    // The whole form: a draft in the text layout takes its list and date from their fields.
    var body = new URLSearchParams(new FormData(form));
    fetch("/admin/preview", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        problem.hidden = !p.error;
        problem.textContent = p.error || "";
        var list = warnings.querySelector("ul");
        list.textContent = "";
        (p.warnings || []).forEach(function (w) {
          var li = document.createElement("li");
          li.textContent = w;
          list.appendChild(li);
        });
        warnings.hidden = !(p.warnings && p.warnings.length);
        if (p.error) return;
        frames.forEach(function (f) { f.srcdoc = p.html; });
        text.textContent = p.text;
      })
      .catch(function () {});
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(render, 600);
  });
})();
