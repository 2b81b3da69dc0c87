// Harrier's only script of its own: copy buttons. htmx (from django-htmx) does the rest.
// Kept in a file rather than inline so that a strict Content-Security-Policy can forbid
// inline scripts. A copy button is <button data-copy="#id-of-element-with-the-text">.
document.documentElement.classList.remove("no-js");

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-http deployments have no Clipboard API: copy through a selected textarea.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = "value" in source && source.value !== undefined ? source.value : source.textContent;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  try {
    await copyText(text.trim());
    button.textContent = "Copied";
  } catch {
    button.textContent = "Press Ctrl+C to copy";
    if (source.select) source.select();
  }
  setTimeout(() => { button.textContent = label; }, 2000);
});

// When an HTMX request fails (server error, expired session or CSRF token, network down),
// say so instead of silently doing nothing; the message goes once a request succeeds.
function showProblem(text) {
  const box = document.getElementById("request-problem");
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  showProblem(
    status === 403 || status === 401
      ? "That was refused (" + status + "). Your session may have ended: reload the page and try again."
      : status === 404
        ? "That is gone (404): it may have been removed or belong to another organization."
        : "Harrier answered with an error (" + status + "). Try again in a moment."
  );
});
document.addEventListener("htmx:sendError", () => {
  showProblem("Harrier cannot be reached right now; the page updates again once it can.");
});
document.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.successful) showProblem("");
});
