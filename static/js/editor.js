// YAML editor: Tab inserts two spaces (YAML forbids tab indentation); Shift-Tab removes them.
document.addEventListener("keydown", function (event) {
  const area = event.target;
  if (event.key !== "Tab" || !area.matches || !area.matches("textarea[data-editor=yaml]")) return;
  event.preventDefault();
  const start = area.selectionStart, end = area.selectionEnd, text = area.value;
  if (event.shiftKey) {
    const lineStart = text.lastIndexOf("\n", start - 1) + 1;
    if (text.slice(lineStart, lineStart + 2) === "  ") {
      area.value = text.slice(0, lineStart) + text.slice(lineStart + 2);
      area.selectionStart = area.selectionEnd = Math.max(lineStart, start - 2);
    }
    return;
  }
  area.value = text.slice(0, start) + "  " + text.slice(end);
  area.selectionStart = area.selectionEnd = start + 2;
});
