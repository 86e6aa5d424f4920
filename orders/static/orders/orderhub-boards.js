/* OrderHub boards: poll for changes, but never swap the rows out from under someone typing or
   scanning a tracking number, or while a "reason" box is open. */
function ohBoardIdle() {
  var rows = document.getElementById("board-rows");
  if (!rows) return false;
  var active = document.activeElement;
  if (active && rows.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return false;
  return !rows.querySelector("details.oh-action-with-reason[open]");
}
/* After a boosted post lands back on the board, put the cursor in the first tracking-number
   field of the labelling stage so the next scan goes straight in. */
document.addEventListener("htmx:afterSettle", function (event) {
  if (event.detail.boosted === undefined && event.target.id === "board-rows") return;
  var next = document.querySelector("#stage-labelling .oh-tracking-input");
  if (next && document.activeElement === document.body) next.focus({ preventScroll: true });
});
