// goroscope watch dashboard: plain DOM and hand-drawn SVG, no framework, no CDN.
// Every value from the API goes in through textContent or setAttribute, never as HTML.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const REFRESH_MS = 3000;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(typeof k === "string" || typeof k === "number" ? document.createTextNode(String(k)) : k);
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function fmtNum(n) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString("en-US");
}
function fmtRate(r) {
  if (!r) return "0";
  return (r > 0 ? "+" : "") + r.toFixed(r >= 10 ? 0 : 2) + "/min";
}
function fmtTime(s) {
  if (!s) return "–";
  return new Date(s * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function loc(l) {
  if (!l) return "–";
  return l.file ? `${l.function} (${l.file}:${l.line})` : l.function;
}
function badge(text, cls) {
  return el("span", { class: "badge " + (cls || text), text });
}
function targetLink(key, name) {
  return el("a", { href: "#/t/" + encodeURIComponent(key), text: name || key });
}
function groupLink(key, gid, text) {
  return el("a", { href: "#/g/" + encodeURIComponent(key) + "/" + encodeURIComponent(gid), text: text || gid });
}

// A line chart of [[unixSeconds, value], ...].
function chart(points, opts) {
  opts = opts || {};
  const W = opts.width || 800, H = opts.height || 220, spark = !!opts.spark;
  const pad = spark ? 2 : 36;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: spark ? "spark" : "chart", preserveAspectRatio: "none" });
  s.dataset.points = String(points.length);
  if (!points.length) {
    if (!spark) {
      const t = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" });
      t.textContent = "no data yet";
      s.append(t);
    }
    return s;
  }
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const X = x => pad + (x - x0) / (x1 - x0) * (W - 2 * pad);
  const Y = y => H - pad - (y - y0) / (y1 - y0) * (H - 2 * pad);
  if (!spark) {
    s.append(svg("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: "axis" }));
    s.append(svg("line", { x1: pad, y1: pad, x2: pad, y2: H - pad, class: "axis" }));
    const lab = (x, y, text, anchor) => {
      const t = svg("text", { x, y, "text-anchor": anchor || "start" });
      t.textContent = text;
      s.append(t);
    };
    lab(pad - 4, Y(y1) + 4, fmtNum(y1), "end");
    lab(pad - 4, Y(y0), fmtNum(y0), "end");
    lab(pad, H - pad + 14, fmtTime(x0));
    lab(W - pad, H - pad + 14, fmtTime(x1), "end");
  }
  let d = "";
  points.forEach((p, i) => { d += (i ? "L" : "M") + X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1); });
  if (points.length === 1) d += "L" + (X(points[0][0]) + 2).toFixed(1) + "," + Y(points[0][1]).toFixed(1);
  s.append(svg("path", { d, class: "line" + (opts.hot ? " hot" : "") }));
  return s;
}

async function api(path) {
  const r = await fetch(path, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

function banner(overview) {
  const b = document.getElementById("banner");
  const msgs = [];
  if (overview && overview.store && !overview.store.ok) msgs.push("History is not being recorded: " + overview.store.last_error);
  if (overview && overview.discovery_errors) for (const [k, v] of Object.entries(overview.discovery_errors)) msgs.push(k + ": " + v);
  b.replaceChildren(...msgs.map(m => el("div", { text: m })));
  b.hidden = msgs.length === 0;
}

async function fleet() {
  const o = await api("/api/v1/overview");
  banner(o);
  const main = [];
  const up = o.targets.filter(t => t.health.up).length;
  main.push(el("h1", {}, `Fleet · ${o.targets.length} targets · ${up} up · ${o.alerts_firing} alerts firing`));
  // What needs a look first: leaking, then down or failing, then by name.
  const rank = t => (t.leaking || t.leaking_sites ? 0 : 2) + (t.health.up ? 1 : 0);
  const targets = o.targets.slice().sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rows = targets.map(t => el("tr", { "data-target": t.key },
    el("td", {}, targetLink(t.key, t.name)),
    el("td", {}, badge(t.health.state)),
    el("td", { class: "num" }, fmtNum(t.total)),
    el("td", {}, chart(t.totals, { spark: true, width: 120, height: 26, hot: t.leaking > 0 })),
    el("td", { class: "num" }, fmtNum(t.groups)),
    el("td", { class: "num" }, t.leaking ? badge(String(t.leaking), "leaking") : "0",
      t.leaking_sites ? el("span", { title: "creation sites leaking (eBPF)" }, " + ", badge(t.leaking_sites + " sites", "leaking")) : null),
    el("td", { class: "num" }, fmtRate(t.max_growth_per_minute)),
    el("td", { class: "num" }, String(t.budgets_firing)),
    el("td", { class: "muted" }, t.form || "", t.go_version ? " · " + t.go_version : ""),
    el("td", { class: "muted" }, t.health.last_error || "")));
  main.push(el("table", { id: "targets" },
    el("thead", {}, el("tr", {}, ...["target", "health", "goroutines", "", "groups", "leaking", "fastest", "budgets", "form", "last error"].map(h => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
  main.push(el("h2", {}, "Fastest-growing groups"));
  if (!o.growing.length) main.push(el("p", { class: "muted", text: "Nothing grows." }));
  else main.push(el("table", { id: "growing" },
    el("thead", {}, el("tr", {}, ...["status", "target", "blocked at", "created by", "goroutines", "growth", ""].map(h => el("th", { text: h })))),
    el("tbody", {}, ...o.growing.map(g => el("tr", { "data-group": g.id, "data-growth": g.growth },
      el("td", {}, badge(g.growth)),
      el("td", {}, targetLink(g.target)),
      el("td", {}, groupLink(g.target, g.id, g.site)),
      el("td", { class: "muted" }, loc(g.created_by)),
      el("td", { class: "num" }, fmtNum(g.count)),
      el("td", { class: "num" }, fmtRate(g.slope_per_minute)),
      el("td", {}, chart(g.points, { spark: true, width: 120, height: 26, hot: g.growth === "leaking" })))))));
  return main;
}

async function target(key) {
  const [t, o] = await Promise.all([api("/api/v1/target?key=" + encodeURIComponent(key)), api("/api/v1/overview")]);
  banner(o);
  const q = encodeURIComponent(key);
  const main = [el("h1", {}, t.name + " ", badge(t.health.state))];
  main.push(el("p", { class: "muted" }, t.key, " · ", fmtNum(t.total), " goroutines · ", t.form || "", t.go_version ? " · " + t.go_version : "",
    ` · ${t.restarts} restarts · ${t.deploys} deploys`));
  if (t.health.last_error) main.push(el("p", { class: "down", text: "Last error: " + t.health.last_error }));
  main.push(el("h2", {}, "Goroutines over time"));
  main.push(chart(t.series, { hot: t.groups.some(g => g.growth === "leaking") }));
  main.push(el("h2", {}, "Groups"));
  main.push(el("table", { id: "groups" },
    el("thead", {}, el("tr", {}, ...["verdict", "growth", "goroutines", "per min", "", "state", "blocked at", "created by"].map(h => el("th", { text: h })))),
    el("tbody", {}, ...t.groups.map(g => el("tr", { "data-group": g.id, "data-growth": g.growth },
      el("td", {}, badge(g.verdict)),
      el("td", {}, badge(g.growth)),
      el("td", { class: "num" }, fmtNum(g.count)),
      el("td", { class: "num" }, fmtRate(g.slope_per_minute)),
      el("td", {}, chart(g.points, { spark: true, width: 120, height: 26, hot: g.growth === "leaking" })),
      el("td", {}, g.state),
      el("td", {}, groupLink(t.key, g.id, g.site)),
      el("td", { class: "muted" }, loc(g.created_by)))))));
  if (t.trace) main.push(...traceSection(t.trace));
  if (t.budgets.length) {
    main.push(el("h2", {}, "Budgets"));
    main.push(el("table", {},
      el("thead", {}, el("tr", {}, ...["budget", "counts", "goroutines", "warn", "critical", "firing"].map(h => el("th", { text: h })))),
      el("tbody", {}, ...t.budgets.map(b => el("tr", {},
        el("td", { text: b.budget }), el("td", { text: b.key }), el("td", { class: "num", text: fmtNum(b.value) }),
        el("td", { class: "num", text: fmtNum(b.warn) }), el("td", { class: "num", text: fmtNum(b.critical) }),
        el("td", {}, b.firing ? badge(b.firing, b.firing === "critical" ? "leak" : "growing") : "–"))))));
  }
  main.push(el("h2", {}, "Last dump"));
  const dl = el("p", {});
  if (t.dump) dl.append(el("a", { href: "/api/v1/dump?key=" + q, text: `download (${t.dump.form}, ${fmtNum(t.dump.bytes)} bytes, ${fmtTime(t.dump.at)})` }));
  if (t.detail) dl.append(" · ", el("a", { href: "/api/v1/dump?key=" + q + "&which=detail", text: `debug=2 (${fmtTime(t.detail.at)})` }));
  main.push(dl);
  if (t.dump) main.push(el("img", { class: "flame", alt: "flame graph of the last dump", src: "/api/v1/flame.svg?key=" + q }));
  if (t.alerts.length) {
    main.push(el("h2", {}, "Alerts and events"));
    main.push(el("ul", {}, ...t.alerts.map(a => el("li", {}, badge(a.status, a.status === "firing" ? "leak" : "muted"), " ", a.at, " ", a.summary))));
  }
  return main;
}

function fmtPerSec(r) {
  if (!r) return "0";
  return r.toFixed(r >= 10 ? 0 : 1) + "/s";
}

// eBPF births and deaths per creation site (`goroscope watch --trace`, pid targets).
function traceSection(tr) {
  const out = [el("h2", {}, "Creation sites (eBPF) ", badge(tr.state === "up" ? "traced" : tr.state, tr.state === "up" ? "steady" : "down"))];
  const facts = [`${fmtNum(tr.born)} born · ${fmtNum(tr.ended)} ended · ${fmtNum(tr.lost)} events lost`];
  if (tr.since) facts.push(" · tracing since " + fmtTime(tr.since));
  if (tr.sessions > 1) facts.push(` · ${tr.sessions} tracer starts`);
  out.push(el("p", { class: "muted", id: "trace-facts" }, ...facts));
  if (tr.error) out.push(el("p", { class: "down", id: "trace-error", text: "Tracer: " + tr.error }));
  if (!tr.sites.length) {
    out.push(el("p", { class: "muted", text: "No goroutine seen yet." }));
    return out;
  }
  out.push(el("table", { id: "sites" },
    el("thead", {}, el("tr", {}, ...["growth", "go statement", "runs", "alive", "", "per min", "born/s", "ended/s", "born", "ended"].map(h => el("th", { text: h })))),
    el("tbody", {}, ...tr.sites.map(s => el("tr", { "data-site": s.id, "data-growth": s.growth, title: (s.evidence || []).join("\n") },
      el("td", {}, badge(s.growth)),
      el("td", {}, s.site, s.system ? el("span", { class: "muted", text: " (runtime)" }) : null),
      el("td", { class: "muted", text: s.entry || "–" }),
      el("td", { class: "num" }, fmtNum(s.live)),
      el("td", {}, chart(s.points, { spark: true, width: 120, height: 26, hot: s.growth === "leaking" })),
      el("td", { class: "num" }, fmtRate(s.slope)),
      el("td", { class: "num" }, fmtPerSec(s.births_per_second)),
      el("td", { class: "num" }, fmtPerSec(s.deaths_per_second)),
      el("td", { class: "num" }, fmtNum(s.born)),
      el("td", { class: "num" }, fmtNum(s.ended)))))));
  const leaking = tr.sites.filter(s => s.growth === "leaking");
  if (leaking.length) out.push(el("ul", { id: "site-evidence" }, ...leaking.map(s => el("li", {}, el("b", { text: s.site + ": " }), (s.evidence || []).join("; ")))));
  return out;
}

async function group(key, gid) {
  const g = await api("/api/v1/group?key=" + encodeURIComponent(key) + "&group=" + encodeURIComponent(gid));
  const o = g.group;
  const main = [el("p", {}, targetLink(g.target, g.target_name), " › group ", o.id)];
  const site = o.blocking ? o.blocking.function : ((o.stack || [])[0] || {}).function || o.id;
  main.push(el("h1", {}, badge(g.verdict), " ", badge(g.growth.status), " ", site));
  const facts = el("table", { id: "facts" }, el("tbody", {},
    el("tr", {}, el("th", { text: "goroutines" }), el("td", { text: fmtNum(g.count) })),
    el("tr", {}, el("th", { text: "growth" }), el("td", { text: fmtRate(g.slope_per_minute) + (g.p_value < 1 ? ` (Mann-Kendall p=${g.p_value.toFixed(4)})` : "") })),
    el("tr", {}, el("th", { text: "state" }), el("td", { text: o.state })),
    el("tr", {}, el("th", { text: "blocked at" }), el("td", { id: "blocking", text: loc(o.blocking) })),
    el("tr", {}, el("th", { text: "created by" }), el("td", { id: "created-by", text: loc(o.created_by) })),
    el("tr", {}, el("th", { text: "pattern" }), el("td", { text: o.pattern || "–" })),
    o.wait_minutes ? el("tr", {}, el("th", { text: "waiting" }), el("td", { text: `${o.wait_minutes.min}–${o.wait_minutes.max} minutes` })) : null,
    Object.keys(o.labels || {}).length ? el("tr", {}, el("th", { text: "labels" }), el("td", { text: Object.entries(o.labels).map(([k, v]) => k + "=" + v.join("|")).join(", ") })) : null));
  main.push(facts);
  main.push(el("h2", {}, "History"));
  main.push(chart(g.series, { hot: g.growth.status === "leaking" }));
  const why = el("div", { class: "card" });
  if (o.explanation) why.append(el("p", {}, el("b", { text: "Why: " }), o.explanation));
  if (o.fix) why.append(el("p", {}, el("b", { text: "Fix: " }), o.fix));
  const ev = (g.evidence || []).concat(o.evidence || []);
  if (ev.length) why.append(el("ul", {}, ...ev.map(e => el("li", { text: e }))));
  main.push(why);
  main.push(el("h2", {}, "Stack"));
  main.push(el("pre", { id: "stack", text: (o.stack || []).map(f => f.function + "\n\t" + f.file + ":" + f.line).join("\n") }));
  if (g.relations && g.relations.length) {
    main.push(el("h2", {}, "Relations"));
    main.push(el("ul", {}, ...g.relations.map(r => el("li", { text: r.summary }))));
  }
  const q = encodeURIComponent(g.target);
  main.push(el("h2", {}, "Dumps"));
  const dl = el("p", {});
  if (g.dump) dl.append(el("a", { href: "/api/v1/dump?key=" + q, text: "last dump (" + g.dump + ")" }));
  if (g.detail) dl.append(" · ", el("a", { href: "/api/v1/dump?key=" + q + "&which=detail", text: "last debug=2" }));
  main.push(dl);
  if (g.dump) main.push(el("img", { class: "flame", alt: "flame graph of the last dump", src: "/api/v1/flame.svg?key=" + q }));
  return main;
}

async function alerts() {
  const a = await api("/api/v1/alerts");
  const row = x => el("tr", {}, el("td", {}, badge(x.status, x.status === "firing" ? "leak" : "steady")), el("td", { text: x.kind }),
    el("td", { text: x.severity }), el("td", { text: x.at }), el("td", {}, x.target ? targetLink(x.target) : "–"), el("td", { text: x.summary }));
  const head = () => el("thead", {}, el("tr", {}, ...["status", "kind", "severity", "at", "target", "summary"].map(h => el("th", { text: h }))));
  return [el("h1", {}, `Alerts · ${a.firing.length} firing`),
    el("table", { id: "firing" }, head(), el("tbody", {}, ...a.firing.map(row))),
    el("h2", {}, "Recent"),
    el("table", { id: "recent" }, head(), el("tbody", {}, ...a.recent.map(row)))];
}

let busy = false;
async function render() {
  if (busy) return;
  busy = true;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  let page = "fleet", out;
  try {
    if (parts[0] === "t" && parts[1]) { page = "target"; out = await target(parts[1]); }
    else if (parts[0] === "g" && parts[1] && parts[2]) { page = "group"; out = await group(parts[1], parts[2]); }
    else if (parts[0] === "alerts") { page = "alerts"; out = await alerts(); }
    else out = await fleet();
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    out = [el("p", { class: "down", text: "Cannot load: " + e.message })];
    document.getElementById("status").textContent = "offline";
  }
  document.getElementById("main").replaceChildren(...out);
  document.body.dataset.page = page;
  document.body.dataset.ready = "1";
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  document.getElementById("clock").textContent = new Date().toISOString();
  busy = false;
}

window.addEventListener("hashchange", render);
render();
setInterval(render, REFRESH_MS);
