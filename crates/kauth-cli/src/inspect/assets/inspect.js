// kauth inspect: the little the page does in the browser. Every decision is the server's: the
// skew slider only re-submits the form so the same library code evaluates the token again.
"use strict";
(function () {
  function describe(n) {
    if (n === 0) { return "the same as this machine's"; }
    return Math.abs(n) + " s " + (n > 0 ? "ahead of" : "behind") + " this machine's";
  }

  // The validator's clock slider: show its value at once, re-evaluate when it rests.
  document.querySelectorAll("input[type=range][data-autosubmit]").forEach(function (slider) {
    var out = document.getElementById(slider.id + "-out");
    var focus = document.getElementById(slider.id + "-focus");
    var timer = null;
    function moved() {
      if (out) { out.textContent = describe(Number(slider.value)); }
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (focus) { focus.value = slider.name; }
        slider.form.requestSubmit();
      }, 600);
    }
    slider.addEventListener("input", moved);
    slider.addEventListener("change", moved);
  });

  // A file chosen or dropped fills its text area; nothing is sent until the form is.
  function read(file, target) {
    file.text().then(function (text) { target.value = text; });
  }
  document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
    var target = document.getElementById(input.getAttribute("data-fill"));
    input.addEventListener("change", function () {
      if (target && input.files.length > 0) { read(input.files[0], target); }
    });
  });
  document.querySelectorAll("textarea[data-drop]").forEach(function (area) {
    area.addEventListener("dragover", function (e) { e.preventDefault(); });
    area.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length > 0) {
        e.preventDefault();
        read(e.dataTransfer.files[0], area);
      }
    });
  });
})();
