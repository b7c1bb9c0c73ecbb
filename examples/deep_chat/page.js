// While the relay recovers a lost upstream connection it sends {"text": "", "status": "Reconnecting…"}, then
// {"text": "", "status": ""} once the answer flows again: the line under the chat says so.  Text and errors
// clear it too.  (Deep Chat itself ignores the empty text.)
const status = document.getElementById("status");
customElements.whenDefined("deep-chat").then(() => {  // (set before, Deep Chat would not see it)
  document.querySelector("deep-chat").responseInterceptor = (message) => {
    if (message && typeof message.status === "string") status.textContent = message.status;
    else if (message && (message.text || message.error)) status.textContent = "";
    return message;
  };
});
