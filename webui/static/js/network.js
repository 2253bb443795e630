/* The network explorer on the ring and entity pages (vis-network, served by the app).
 *
 * Data comes from JSON endpoints named in data- attributes of #graph; every data-derived string reaches
 * the DOM through textContent (tooltips are DOM elements, never HTML strings), and vis draws labels on
 * the canvas as text. Layout: a bounded number of stabilisation iterations, then physics off, so a
 * cluster of 500 nodes is usable within a few seconds. The Network is kept at window.gfNetwork.
 * Edges of kind "transfer" are money between users: arrows from payer to payee, labelled count x total.
 */
(function () {
  "use strict";
  var el = document.getElementById("graph");
  if (!el || typeof vis === "undefined") { return; }

  var TYPES = {
    user: { shape: "dot", color: "#4f7cac", size: 14 },
    card: { shape: "square", color: "#e0a030", size: 11 },
    device: { shape: "triangle", color: "#5a9e6f", size: 12 },
    ip: { shape: "diamond", color: "#8a6bbf", size: 12 },
    merchant: { shape: "star", color: "#7a7a7a", size: 13 },
    email: { shape: "hexagon", color: "#3aa5a0", size: 11 },
    phone: { shape: "hexagon", color: "#c06c9a", size: 11 },
    more: { shape: "box", color: "#dddddd", size: 12 }
  };
  var OTHER = { shape: "triangleDown", color: "#a0835c", size: 11 };
  var FRAUD = "#d62728", SUSPICIOUS = "#ff8c1a", HUB = "#222222", TRANSFER = "#1f8a4c";

  var nodes = new vis.DataSet(), edges = new vis.DataSet();
  var panel = document.querySelector("[data-role=panel]");
  var status = document.querySelector("[data-role=status]");
  var timeForm = document.querySelector("[data-role=timefilter]");
  var src = el.getAttribute("data-src");
  var t0 = performance.now();
  window.gfTiming = { start: t0 };

  function say(text) { if (status) { status.textContent = text; } }
  function fmt(ms) { return ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : ""; }
  // bidi controls shown as visible markers (as the pages' visible filter does), so a reversed id cannot pose
  // as another; ids in the JSON stay raw because they are addresses
  var BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function visible(text) {
    return String(text).replace(BIDI, function (c) {
      return "\u27e8U+" + c.charCodeAt(0).toString(16).toUpperCase() + "\u27e9";
    });
  }
  function mk(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = visible(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function lines(arr) {  // a tooltip element: one line of plain text per entry
    var d = mk("div", null, "tip");
    arr.forEach(function (t) { d.appendChild(mk("div", t)); });
    return d;
  }
  function fillUrl(tpl, type, id, via) {
    var u = tpl.replace("/TYPE/ID", "/" + encodeURIComponent(type) + "/" + encodeURIComponent(id));
    var q = [];
    if (via) { q.push("via=" + encodeURIComponent(via)); }
    return { url: u, q: q };
  }
  function withQuery(u, q) { return q.length ? u + (u.indexOf("?") < 0 ? "?" : "&") + q.join("&") : u; }
  function timeQuery() {
    var q = [];
    if (timeForm) {
      ["since", "until"].forEach(function (k) {
        var v = timeForm.elements[k].value;
        if (v) { q.push(k + "=" + encodeURIComponent(v)); }
      });
    }
    return q;
  }

  function visNode(n) {
    var st = TYPES[n.type] || OTHER;
    var v = {
      id: n.id, label: n.label, shape: st.shape, size: st.size, gf: n,
      color: { background: st.color, border: st.color, highlight: { background: st.color, border: "#000" } },
      borderWidth: 1, font: { size: 11, color: "#222" }
    };
    var tip = [n.type + " " + n.label];
    if (n.n_users !== undefined) { tip.push(n.n_users + " users"); }
    if (n.ring_id) { tip.push("ring " + n.ring_id); }
    if (n.user_label) { tip.push("label " + n.user_label); }
    if (n.fraud) {
      v.color.border = FRAUD; v.color.background = FRAUD; v.borderWidth = 3; tip.push("confirmed fraud");
    } else if (n.suspicious) {
      v.color.border = SUSPICIOUS; v.borderWidth = 3; tip.push("suspicious: in a ring");
    }
    if (n.hub) {
      v.color.border = HUB; v.borderWidth = 4; v.size = st.size + 8; v.shapeProperties = { borderDashes: [4, 3] };
      v.label = n.label + " (" + n.n_users + " users)";
      tip.push("hub: folded; double-click to open");
    }
    if (n.aggregate) { v.shape = "box"; tip.push("double-click to open the full list"); }
    v.title = lines(tip);
    return v;
  }
  function money(v) {
    var x = Number(v) || 0;
    return x.toLocaleString("en-US", { minimumFractionDigits: x % 1 ? 2 : 0, maximumFractionDigits: 2 });
  }
  function visTransfer(e) {  // money from e.from (payer) to e.to (payee): an arrow labelled count x total
    var tip = ["transfer " + String(e.from).replace(/^user:/, "") + " \u2192 " + String(e.to).replace(/^user:/, ""),
      e.n + (e.n === 1 ? " transfer, " : " transfers, ") + money(e.amount) + " in all"];
    if (e.first_seen) { tip.push("first " + fmt(e.first_seen)); }
    if (e.last_seen && e.last_seen !== e.first_seen) { tip.push("last " + fmt(e.last_seen)); }
    return {
      id: e.id, from: e.from, to: e.to, gf: e, arrows: { to: { enabled: true, scaleFactor: 0.7 } },
      width: Math.min(6, 1 + Math.log(1 + (Number(e.amount) || 0)) / 3), dashes: false,
      label: (e.n > 1 ? e.n + "\u00d7 " : "") + money(e.amount), font: { size: 9, align: "top", color: TRANSFER },
      color: { color: TRANSFER, highlight: "#0b3d20" }, smooth: { enabled: true, type: "curvedCW", roundness: 0.15 },
      title: lines(tip)
    };
  }
  function visEdge(e) {
    if (e.kind === "transfer") { return visTransfer(e); }
    var tip = [];
    if (e.n !== null && e.n !== undefined) { tip.push(e.n + " transactions"); }
    if (e.first_seen) { tip.push("first " + fmt(e.first_seen)); }
    if (e.last_seen) { tip.push("last " + fmt(e.last_seen)); }
    return {
      id: e.id, from: e.from, to: e.to, gf: e, width: e.n ? Math.min(6, 1 + Math.log(e.n)) : 1,
      label: e.n && e.n > 1 ? String(e.n) : undefined, font: { size: 9, align: "middle" },
      color: { color: "#9aa", highlight: "#333" }, title: tip.length ? lines(tip) : undefined
    };
  }

  var big = false;
  var options = {
    autoResize: true,
    layout: { improvedLayout: false, randomSeed: 7 },
    interaction: { hover: true, tooltipDelay: 150, hideEdgesOnDrag: true },
    nodes: { borderWidth: 1 },
    edges: { smooth: false },
    physics: {
      enabled: true, solver: "barnesHut",
      barnesHut: { gravitationalConstant: -3000, springLength: 90, springConstant: 0.04, damping: 0.3,
                   avoidOverlap: 0.1 },
      stabilization: { enabled: true, iterations: 150, updateInterval: 100, fit: true },
      minVelocity: 1.5
    }
  };
  var network = new vis.Network(el, { nodes: nodes, edges: edges }, options);
  window.gfNetwork = network;

  function freeze() {
    network.setOptions({ physics: false });
    window.gfTiming.usable = performance.now();
    window.gfReady = true;
    el.setAttribute("data-ready", "1");
    say(nodes.length + " nodes, " + edges.length + " links" + (big ? " (large view: layout frozen)" : ""));
  }
  network.on("stabilizationIterationsDone", freeze);

  function load(url) {
    say("Loading…");
    window.gfReady = false;
    el.removeAttribute("data-ready");
    return fetch(withQuery(url, timeQuery()), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { say(res.j.error || "The view could not be loaded."); return; }
        var j = res.j;
        big = j.nodes.length > 200;
        nodes.clear(); edges.clear();
        nodes.add(j.nodes.map(visNode));
        edges.add(j.edges.map(visEdge));
        window.gfTiming.loaded = performance.now();
        var iters = big ? 80 : 150;  // bounded: the layout must be usable in a few seconds
        network.setOptions({ physics: { enabled: true, stabilization: { iterations: iters } } });
        if (j.nodes.length === 0) { freeze(); return; }
        network.stabilize(iters);
        if (j.truncated) { say("View limited to " + j.nodes.length + " nodes"); }
      })
      .catch(function () { say("The view could not be loaded."); });
  }

  // ---------------------------------------------------------------- side panel
  var panelSeq = 0;  // a double-click also fires two clicks: only the latest request fills the panel
  function showPanel(n) {
    if (!panel) { return; }
    var mine = ++panelSeq;
    panel.textContent = "";
    panel.appendChild(mk("h3", n.type + " " + n.label));
    if (n.aggregate) {
      panel.appendChild(mk("p", n.n_users + " more users are linked to this identifier."));
      var a0 = mk("a", "Open the full list"); a0.href = n.url; panel.appendChild(a0);
      return;
    }
    var f = fillUrl(el.getAttribute("data-node-url"), n.type, n.key, n.via);
    panel.appendChild(mk("p", "Loading…", "loading"));
    fetch(withQuery(f.url, f.q), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (mine !== panelSeq) { return; }
        var l = panel.querySelector(".loading"); if (l) { l.remove(); }
        if (!d.ok) { panel.appendChild(mk("p", d.error || "Not found.")); return; }
        var dl = mk("dl");
        function row(k, v) { if (v !== undefined && v !== null && v !== "") { dl.appendChild(mk("dt", k)); dl.appendChild(mk("dd", v)); } }
        row("type", d.type); row("id", d.id);
        row("ring", d.ring_id); row("label", d.label);
        row("identifiers", d.n_identifiers); row("users", d.n_users);
        ["sent", "received"].forEach(function (k) {
          var m = d[k];
          if (m) { row(k, m.n + " transfers, " + money(m.amount) + (k === "sent" ? " to " : " from ") + m.partners + " accounts"); }
        });
        if (n.suspicious) { row("mark", n.fraud ? "confirmed fraud" : "suspicious"); } else if (n.fraud) { row("mark", "confirmed fraud"); }
        panel.appendChild(dl);
        var open = mk("a", "Open " + d.type + " page"); open.href = d.url; open.className = "open";
        panel.appendChild(open);
        panel.appendChild(mk("h4", "Transactions (" + d.transactions.length + ")"));
        var ul = mk("ul", null, "txs");
        d.transactions.forEach(function (t) {
          var li = mk("li");
          var a = mk("a", t.transaction_id); a.href = t.url; li.appendChild(a);
          li.appendChild(mk("span", " " + (t.timestamp || "") + " " + t.amount + " " + (t.currency || "") +
            (String(t.is_fraud) === "1" ? " · fraud" : "")));
          ul.appendChild(li);
        });
        panel.appendChild(ul);
      })
      .catch(function () { panel.appendChild(mk("p", "The details could not be loaded.")); });
  }

  // ---------------------------------------------------------------- expand in place
  function expand(n) {
    if (n.aggregate) { window.location.assign(n.url); return; }
    var f = fillUrl(el.getAttribute("data-expand-url"), n.type, n.key, n.via);
    var q = f.q.concat(["hops=1", "limit=" + (n.hub ? 60 : 100)]).concat(timeQuery());
    say("Expanding…");
    fetch(withQuery(f.url, q), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (!j.ok) { say(j.error || "Could not expand."); return; }
        var origin = network.getPositions([n.id])[n.id] || { x: 0, y: 0 };
        var fresh = j.nodes.filter(function (x) { return !nodes.get(x.id); });
        var r = 120 + 6 * fresh.length;
        fresh.forEach(function (x, i) {  // place new neighbours on a ring round the node; physics stays off
          var a = (2 * Math.PI * i) / Math.max(1, fresh.length);
          var v = visNode(x); v.x = origin.x + r * Math.cos(a); v.y = origin.y + r * Math.sin(a);
          nodes.add(v);
        });
        edges.update(j.edges.filter(function (e) { return !edges.get(e.id); }).map(visEdge));
        say(nodes.length + " nodes, " + edges.length + " links (+" + fresh.length + ")");
        el.setAttribute("data-expanded", String(fresh.length));
      })
      .catch(function () { say("Could not expand."); });
  }

  network.on("click", function (p) {
    if (p.nodes.length) { var v = nodes.get(p.nodes[0]); if (v) { showPanel(v.gf); } }
  });
  network.on("doubleClick", function (p) {
    if (p.nodes.length) { var v = nodes.get(p.nodes[0]); if (v) { expand(v.gf); } }
  });

  // ---------------------------------------------------------------- time filter and exports
  if (timeForm) {
    timeForm.addEventListener("submit", function (ev) { ev.preventDefault(); load(src); });
    timeForm.addEventListener("reset", function () { window.setTimeout(function () { load(src); }, 0); });
  }
  function download(name, href) {
    var a = document.createElement("a"); a.href = href; a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
  }
  function blobUrl(text, type) { return URL.createObjectURL(new Blob([text], { type: type })); }
  function csvCell(v) {
    var s = v === undefined || v === null ? "" : String(v);
    // no formulas when opened in a spreadsheet (OWASP; the rule of graphfraud/output.py: numbers stay)
    if (/^[=+\-@\t\r]/.test(s) && !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) { s = "'" + s; }
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function exportData() {
    return {
      nodes: nodes.get().map(function (v) { return v.gf; }),
      edges: edges.get().map(function (v) { return v.gf; })
    };
  }
  var base = (el.getAttribute("data-name") || "graph").replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 80);
  document.querySelectorAll("[data-export]").forEach(function (b) {
    b.addEventListener("click", function () {
      var kind = b.getAttribute("data-export"), d = exportData();
      if (kind === "png") {
        var canvas = el.querySelector("canvas");
        if (canvas) { download(base + ".png", canvas.toDataURL("image/png")); }
      } else if (kind === "json") {
        download(base + ".json", blobUrl(JSON.stringify(d, null, 2), "application/json"));
      } else {
        var rows = [["kind", "id", "type", "label", "from", "to", "n", "amount", "first_seen", "last_seen", "ring_id", "fraud", "suspicious"]];
        d.nodes.forEach(function (n) { rows.push(["node", n.id, n.type, n.label, "", "", n.n_users, "", "", "", n.ring_id, n.fraud ? 1 : 0, n.suspicious ? 1 : 0]); });
        d.edges.forEach(function (e) { rows.push([e.kind === "transfer" ? "transfer" : "edge", e.id, "", "", e.from, e.to, e.n, e.amount, fmt(e.first_seen), fmt(e.last_seen), "", "", ""]); });
        download(base + ".csv", blobUrl(rows.map(function (r) { return r.map(csvCell).join(","); }).join("\n") + "\n", "text/csv"));
      }
    });
  });

  load(src);
})();
