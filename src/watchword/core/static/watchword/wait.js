// Pages that wait for something done elsewhere (an approval in the authenticator app, a device
// activating): listen to the page's event stream and post its form when the event comes, or
// when the wait runs out. Without JavaScript the form's own button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-wait-events]");
  if (!form || !window.EventSource) { return; }
  var sent = false;
  function proceed() {
    if (sent) { return; }
    sent = true;
    form.submit();
  }
  var stream = new EventSource(form.getAttribute("data-wait-events"));
  ["answered", "activated"].forEach(function (name) {
    stream.addEventListener(name, function () { stream.close(); proceed(); });
  });
  var seconds = parseInt(form.getAttribute("data-wait-seconds") || "0", 10);
  if (seconds > 0) {
    window.setTimeout(function () { stream.close(); proceed(); }, (seconds + 1) * 1000);
  }
})();
