(function () {
  var box = document.getElementById("district-search");
  var count = document.getElementById("district-search-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#appendix-table tbody tr"));
  if (!box || !count) { return; }
  document.getElementById("district-search-form").hidden = false;
  box.addEventListener("input", function () {
    var query = box.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var hit = query === "" || row.getAttribute("data-search").indexOf(query) !== -1;
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " districts";
  });
})();
