/* Tip form convenience: compute the proof of work in a worker while the source writes, and put
 * the answer in the form. Without JavaScript, or if it is not ready in time, the form is sent
 * anyway (the server then applies stricter limits). */
"use strict";

(function () {
  const form = document.getElementById("tip-form");
  if (!form || !window.Worker) return;
  const bits = parseInt(form.dataset.powBits || "0", 10);
  const nonce = form.dataset.powNonce;
  const field = form.querySelector('input[name="pow"]');
  const status = document.getElementById("pow-status");
  if (!bits || !nonce || !field) return;

  let done = false;
  let waiting = false;
  const worker = new Worker(form.dataset.powWorker);
  worker.onmessage = (event) => {
    field.value = event.data.answer;
    done = true;
    form.dataset.powMs = String(event.data.ms);
    if (waiting) form.submit();
  };
  worker.postMessage({ nonce: nonce, bits: bits });

  form.addEventListener("submit", (event) => {
    if (done || waiting) return;
    event.preventDefault();
    waiting = true;
    status.textContent = status.dataset.waiting;
    status.hidden = false;
    // Never hold a tip back for long: send without the proof after 20 seconds.
    setTimeout(() => form.submit(), 20000);
  });
})();
