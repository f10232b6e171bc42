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

/* Keyboard shortcuts of the collector's desk (the list: base.html's #shortcuts dialog, opened with "?"). A key acts
   only when no field has the focus and no modifier is held: typing a note never triggers one. */
const SHORTCUTS = {
  // Follow a link or press a button: the first visible, enabled match wins.
  n: { click: ["[data-shortcut=n]", "[data-shortcut-target=n]"] },
  c: { click: ["[data-shortcut=c]:not([disabled])"] },
  q: { click: ["[data-shortcut-target=q]"] },
  // Move the focus to a field.
  d: { focus: ["[data-testid=call-log] input:not([type=hidden])", "[data-testid=call-log] select"] },
  o: { focus: ["#id_text"] },
  p: {
    focus: [
      "[data-testid=call-log] input[name=promise_amount]",
      "[data-testid=call-promise-form] input[name=amount]",
      "[data-testid=promise-form] input[name=amount]",
    ],
  },
  "/": { focus: ["input[type=search][name=q]"] },
};

function typing(element) {
  return element && (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
}

function first(selectors) {
  for (const selector of selectors) {
    const element = document.querySelector(selector);
    if (element) return element;
  }
  return null;
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && typing(event.target) && event.target.tagName !== "SELECT") {
    event.target.blur(); // Esc leaves the field: the shortcuts work again
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const overlay = document.getElementById("shortcuts");
  if (event.key === "?") {
    event.preventDefault();
    if (overlay.open) overlay.close();
    else overlay.showModal();
    return;
  }
  if (overlay && overlay.open) return;
  const shortcut = SHORTCUTS[event.key];
  if (!shortcut) return;
  const target = first(shortcut.click || shortcut.focus);
  if (!target) return;
  event.preventDefault();
  if (shortcut.click) {
    target.click();
  } else {
    target.scrollIntoView({ block: "center" });
    target.focus();
  }
});

// After htmx replaced the part of the page that had the focus (a disposition saved), the focus goes to where the
// work continues: the "Next case" button, else the main region.
document.body.addEventListener("htmx:afterSettle", () => {
  if (document.activeElement === document.body || !document.activeElement) {
    const next = document.querySelector("#main [data-shortcut=n]") || document.getElementById("main");
    if (next) next.focus();
  }
});
