/* Behaviour shared by every page. Nothing here opens dialogs: confirmations are pages, not prompts. */
(function () {
  "use strict";
  // submit the filter forms of tables when a select changes (progressive: the button works without this)
  document.querySelectorAll("form.filters select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
