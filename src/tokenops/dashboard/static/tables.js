// Sortable, filterable tables built with DOM calls only (no HTML strings, so no markup injection).
"use strict";

class DataTable {
  // columns: [{key, label, num, fmt(value, row) -> string | Node, cls(value, row) -> class}]
  constructor(root, columns, options = {}) {
    this.root = root;
    this.columns = columns;
    this.rows = [];
    this.sortKey = options.sortKey || null;
    this.sortDir = options.sortDir || -1;
    this.rowClass = options.rowClass || (() => "");
    this.filterText = "";
    this.filter = document.createElement("input");
    this.filter.className = "filter";
    this.filter.type = "search";
    this.filter.placeholder = "filter…";
    this.filter.addEventListener("input", () => { this.filterText = this.filter.value.toLowerCase(); this.render(); });
    this.table = document.createElement("table");
    root.replaceChildren(this.filter, this.table);
  }

  update(rows) { this.rows = rows || []; this.render(); }

  sortBy(key) {
    this.sortDir = this.sortKey === key ? -this.sortDir : -1;
    this.sortKey = key;
    this.render();
  }

  visibleRows() {
    let rows = this.rows;
    if (this.filterText) {
      rows = rows.filter((r) => this.columns.some((c) => String(r[c.key] ?? "").toLowerCase().includes(this.filterText)));
    }
    if (this.sortKey) {
      const k = this.sortKey, d = this.sortDir;
      rows = [...rows].sort((a, b) => {
        const x = a[k], y = b[k];
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * d;
      });
    }
    return rows;
  }

  render() {
    const head = document.createElement("tr");
    for (const c of this.columns) {
      const th = document.createElement("th");
      th.textContent = c.label;
      th.dataset.key = c.key;
      if (c.num) th.classList.add("num");
      if (this.sortKey === c.key) th.classList.add(this.sortDir > 0 ? "sorted-asc" : "sorted-desc");
      th.addEventListener("click", () => this.sortBy(c.key));
      head.appendChild(th);
    }
    const thead = document.createElement("thead");
    thead.appendChild(head);
    const tbody = document.createElement("tbody");
    const rows = this.visibleRows();
    for (const r of rows) {
      const tr = document.createElement("tr");
      const rc = this.rowClass(r);
      if (rc) tr.className = rc;
      for (const c of this.columns) {
        const td = document.createElement("td");
        const shown = c.fmt ? c.fmt(r[c.key], r) : r[c.key];
        if (shown instanceof Node) td.appendChild(shown); else td.textContent = shown ?? "–";
        if (c.num) td.classList.add("num");
        const extra = c.cls ? c.cls(r[c.key], r) : "";
        if (extra) td.classList.add(extra);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = this.columns.length;
      td.className = "empty";
      td.textContent = this.rows.length ? "no row matches the filter" : "nothing yet";
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    this.table.replaceChildren(thead, tbody);
  }
}

window.DataTable = DataTable;
