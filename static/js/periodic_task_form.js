/* django-celery-beat's periodic task form: the chosen crontab schedule in words under its field. The package does this
   with an inline script, which the Content-Security-Policy refuses (templates/admin/djcelery/). */
"use strict";

(() => {
  const data = document.getElementById("readable-crontabs");
  const select = document.getElementById("id_crontab");
  const help = document.querySelector(".field-crontab .help");
  if (!data || !select || !help) {
    return;
  }
  const readable = JSON.parse(data.textContent);
  document.querySelectorAll(".field-crontab_translation").forEach((row) => {
    row.style.display = "none";
  });
  const line = document.createElement("div");
  help.appendChild(line);
  select.addEventListener("change", () => {
    const words = readable[select.value];
    line.textContent = words ? `Translation: ${words}` : "";
  });
})();
