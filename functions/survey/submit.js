// The page of a survey score link (GET /survey/{token}?score=N) records nothing by
// itself, because mail security scanners open every link in a message. A person's
// browser runs this and sends the chosen score at once, so one click is still enough;
// without JavaScript the page's "Send my rating" button sends the same form.
// It submits while the page is still loading, so the browser replaces this page in its
// history: Back returns to the mail rather than to a page that sends again.
"use strict";
(function () {
  var form = document.getElementById("send-score");
  if (form) {
    form.submit();
  }
})();
