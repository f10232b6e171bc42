/* The borrower's card step (portal/card.html): the one page of theirs with a script. Stripe.js (loaded before this
   file, from STRIPE_JS_URL) collects the card in its own field; this sends the server only the card's id, never its
   number. When the bank asks the cardholder to confirm (3-D Secure), the PaymentIntent is confirmed here with its
   client secret. Either way the borrower then waits on the page that shows Stripe's confirmation. */
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof window.Stripe !== "function") { return; }
  var stripe = window.Stripe(form.dataset.key);
  var error = document.getElementById("card-error");
  var button = form.querySelector("button[type=submit]");

  function fail(message) {
    error.textContent = message || form.dataset.failed;
    button.disabled = false;
  }

  if (form.dataset.authenticate === "1") {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      error.textContent = "";
      stripe.confirmCardPayment(form.dataset.secret).then(function (result) {
        if (result.error) { fail(result.error.message); return; }
        window.location.assign(form.dataset.done);
      }, function () { fail(""); });
    });
    return;
  }

  var card = stripe.elements().create("card");
  card.mount("#card-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    error.textContent = "";
    stripe.createToken(card).then(function (result) {
      if (result.error || !result.token) { fail(result.error && result.error.message); return; }
      form.elements.payment_method.value = result.token.card.id;
      form.submit();
    }, function () { fail(""); });
  });
})();
