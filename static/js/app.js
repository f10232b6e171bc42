/* Behaviour the templates ask for with data attributes. The Content-Security-Policy allows no inline script and no
   inline event handler (onclick=, onchange=): everything a page needs beyond htmx and Bootstrap lives here. */
"use strict";

document.addEventListener("change", (event) => {
  const target = event.target;
  // <select data-submit-on-change>: choosing an option submits its form (language, reporting period).
  if (target.matches("[data-submit-on-change]") && target.form) {
    target.form.submit();
  }
  // <input type="checkbox" data-check-all="case">: ticks or clears every checkbox named "case" in its form.
  const name = target.dataset.checkAll;
  if (name) {
    const scope = target.form || document;
    scope.querySelectorAll(`input[type=checkbox][name="${CSS.escape(name)}"]`).forEach((box) => {
      box.checked = target.checked;
    });
  }
});
