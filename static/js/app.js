// Page behaviour that used to sit in inline handlers (onclick, onsubmit, onchange): the
// Content-Security-Policy allows scripts from this site's files only, so the templates say
// what they want with data attributes and these delegated listeners do it.

// <form data-confirm="Restore version #3?">: ask before submitting.
document.addEventListener("submit", function (event) {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) event.preventDefault();
});

// <select data-autosubmit>: submit its form when the choice changes.
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("[data-autosubmit]")) event.target.form.submit();
});

// Modals: a click on the backdrop itself or on [data-close-modal] empties the modal's holder.
document.addEventListener("click", function (event) {
  const target = event.target;
  if (!target.closest) return;
  const backdrop = target.classList.contains("modal-backdrop")
    ? target
    : target.closest("[data-close-modal]") && target.closest(".modal-backdrop");
  if (backdrop && backdrop.parentNode) backdrop.parentNode.innerHTML = "";
});
