// The charts of boomer's HTML report (output/html.rs): SVG drawn here from the JSON in
// #data, with no library, so the page works offline. Text goes in through textContent
// only (class names come from users). Each chart's <svg> says how many points it drew
// (data-points), and #charts how many charts (data-rendered), for the tests.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 900, H = 260, L = 64, R = 32, T = 12, B = 28;
  const tl = JSON.parse(document.getElementById("data").textContent).timeline;
  const box = document.getElementById("charts");

  function svg(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // A round number at or above v: 1, 2 or 5 times a power of ten.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // Seconds between time labels: a round step that gives at most 8 of them.
  function timeStep(span) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
      21600, 43200, 86400];
    for (const s of steps) if (span / s <= 8) return s;
    return 86400 * Math.ceil(span / 8 / 86400);
  }

  function clock(s) {
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    return h + ":" + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
  }

  function number(v) {
    return v === null || v === undefined ? "-" : (Math.round(v * 100) / 100).toLocaleString("en");
  }

  function chart(id, title, series) {
    const fig = document.createElement("figure");
    fig.className = "chart";
    const cap = document.createElement("figcaption");
    cap.textContent = title;
    fig.appendChild(cap);
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    }
    fig.appendChild(legend);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, "data-chart": id, role: "img" });
    fig.appendChild(root);
    box.appendChild(fig);

    const xs = tl.t;
    const xmax = Math.max(1, ...xs);
    let ymax = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > ymax) ymax = v;
    ymax = niceCeil(ymax);
    const x = t => L + (t / xmax) * (W - L - R);
    const y = v => H - B - (v / ymax) * (H - T - B);

    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4, yy = y(v);
      svg("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: "grid" }, root);
      svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, root).textContent = number(v);
    }
    const step = timeStep(xmax);
    for (let t = 0; t <= xmax + 1e-9; t += step) {
      svg("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, root).textContent = clock(t);
    }
    svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, root);

    let drawn = 0;
    for (const s of series) {
      // A gap where there is no value (no request: no percentile).
      let run = [];
      const flush = () => {
        if (run.length === 1) {
          svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5, fill: s.color }, root);
        } else if (run.length > 1) {
          const points = run.map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
          svg("polyline", { points: points, fill: "none", stroke: s.color, "stroke-width": 2 }, root);
        }
        run = [];
      };
      s.values.forEach((v, i) => {
        if (v === null || v === undefined || i >= xs.length) return flush();
        run.push([x(xs[i]), y(v)]);
        drawn++;
      });
      flush();
    }
    root.setAttribute("data-points", String(drawn));
    hover(root, series, x);
  }

  // The values at the pointer: a vertical line and a box of the series' values.
  function hover(root, series, x) {
    const line = svg("line", { y1: T, y2: H - B, class: "cursor", visibility: "hidden" }, root);
    const label = svg("text", { class: "readout", y: T + 12, visibility: "hidden" }, root);
    root.addEventListener("mousemove", ev => {
      const r = root.getBoundingClientRect();
      const px = ((ev.clientX - r.left) / r.width) * W;
      let best = -1, dist = Infinity;
      tl.t.forEach((t, i) => {
        const d = Math.abs(x(t) - px);
        if (d < dist) { dist = d; best = i; }
      });
      if (best < 0) return;
      const at = x(tl.t[best]);
      line.setAttribute("x1", at);
      line.setAttribute("x2", at);
      label.setAttribute("x", at > W / 2 ? at - 8 : at + 8);
      label.setAttribute("text-anchor", at > W / 2 ? "end" : "start");
      label.textContent = clock(tl.t[best]) + "  " +
        series.map(s => s.name + " " + number(s.values[best])).join("  ");
      line.setAttribute("visibility", "visible");
      label.setAttribute("visibility", "visible");
    });
    root.addEventListener("mouseleave", () => {
      line.setAttribute("visibility", "hidden");
      label.setAttribute("visibility", "hidden");
    });
  }

  chart("rps", "Total Requests per Second", [
    { name: "RPS", color: "#00a651", values: tl.rps },
    { name: "Failures/s", color: "#e0392b", values: tl.fps },
  ]);
  chart("response-times", "Response Times (ms)", [
    { name: "50th percentile", color: "#9966cc", values: tl.p50 },
    { name: "95th percentile", color: "#ff9900", values: tl.p95 },
    { name: "99th percentile", color: "#cc3366", values: tl.p99 },
  ]);
  chart("users", "Number of Users", [{ name: "Users", color: "#1f77b4", values: tl.users }]);
  tl.classes.forEach((c, i) => {
    chart("arrivals-" + i, "Arrivals of " + c.name + " (per second)", [
      { name: "due", color: "#1f77b4", values: c.due },
      { name: "dropped", color: "#e0392b", values: c.dropped },
    ]);
  });
  box.setAttribute("data-rendered", String(box.children.length));
})();
