/* Small charts drawn by hand on <canvas data-chart='{"kind","title","labels","values"}'> (no library, no CDN).
 * Labels are drawn with fillText, so data-derived text is never parsed as HTML. */
(function () {
  "use strict";
  var INK = "#333", BAR = "#4f7cac", GRID = "#e3e3e3";
  function nice(n) { return n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n * 1000) / 1000); }
  function clip(ctx, s, w) {
    s = String(s);
    while (s.length > 1 && ctx.measureText(s).width > w) { s = s.slice(0, -2) + "…"; }
    return s;
  }
  function bars(ctx, W, H, c) {
    var n = c.values.length, max = Math.max.apply(null, c.values.concat([1]));
    var left = 40, bottom = 34, top = 10, w = (W - left - 8) / Math.max(n, 1);
    ctx.strokeStyle = GRID; ctx.fillStyle = INK; ctx.font = "10px sans-serif";
    for (var k = 0; k <= 4; k++) {
      var y = top + (H - top - bottom) * (1 - k / 4);
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(W - 4, y); ctx.stroke();
      ctx.fillText(nice(max * k / 4), 2, y + 3);
    }
    var every = Math.ceil(n / 10);
    c.values.forEach(function (v, i) {
      var h = (H - top - bottom) * v / max, x = left + i * w;
      ctx.fillStyle = BAR; ctx.fillRect(x + 1, H - bottom - h, Math.max(1, w - 2), h);
      if (i % every === 0) {
        ctx.save(); ctx.fillStyle = INK; ctx.translate(x + w / 2, H - bottom + 4); ctx.rotate(Math.PI / 5);
        ctx.fillText(clip(ctx, c.labels[i], 60), 0, 6); ctx.restore();
      }
    });
  }
  function hbars(ctx, W, H, c) {
    var n = c.values.length, max = Math.max.apply(null, c.values.concat([1]));
    var left = 130, h = Math.min(24, (H - 10) / Math.max(n, 1));
    ctx.font = "11px sans-serif";
    c.values.forEach(function (v, i) {
      var y = 5 + i * h, w = (W - left - 60) * v / max;
      ctx.fillStyle = INK; ctx.fillText(clip(ctx, c.labels[i], left - 8), 2, y + h * 0.65);
      ctx.fillStyle = BAR; ctx.fillRect(left, y + 2, Math.max(1, w), h - 4);
      ctx.fillStyle = INK; ctx.fillText(nice(v), left + w + 4, y + h * 0.65);
    });
  }
  document.querySelectorAll("canvas[data-chart]").forEach(function (cv) {
    var c;
    try { c = JSON.parse(cv.getAttribute("data-chart")); } catch (e) { return; }
    var ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
    ctx.clearRect(0, 0, W, H);
    var total = c.values.reduce(function (a, b) { return a + b; }, 0);
    if (!c.values.length || total === 0) {
      ctx.fillStyle = "#888"; ctx.font = "13px sans-serif"; ctx.fillText("No data yet", W / 2 - 35, H / 2); return;
    }
    (c.kind === "hbars" ? hbars : bars)(ctx, W, H, c);
    cv.setAttribute("data-drawn", "1");
  });
})();
