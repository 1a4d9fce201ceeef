// The live dashboard view: tiles placed on PostHog's 12-column grid as the stream brings them.
//
// Everything comes from the local server: `api/dashboards` (the list on the left) and
// `api/dashboards/{id}/stream` (the tile stream as server-sent events). Server strings are
// put into the page as text; only Markdown of text tiles becomes HTML, and only after
// DOMPurify has sanitised what marked produced.
"use strict";

(() => {
  const COLUMNS = 12;
  // PostHog's data colour palette, in its order.
  const COLORS = ["#1d4aff", "#621da6", "#42827e", "#ce0e74", "#f14f58", "#7c440e", "#529a0a", "#0476fb"];

  const $ = (id) => document.getElementById(id);
  const grid = $("grid");
  const statusEl = $("status");
  const noteEl = $("note");
  const charts = new Map(); // tile id -> Chart, so a redraw or a new dashboard frees them

  const drawn = new Map(); // tile id -> whether it failed, for the progress line
  let source = null;
  let retries = 0;

  const fmt = (value) =>
    typeof value === "number" && Number.isFinite(value)
      ? value.toLocaleString("en-US", { maximumFractionDigits: 2 })
      : "–";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function progress(done) {
    const shown = drawn.size;
    const failed = [...drawn.values()].filter(Boolean).length;
    const noun = shown === 1 ? "tile" : "tiles";
    const count = done ? `${shown} of ${shown}` : `${shown}`;
    return `${count} ${noun}${failed ? `, ${failed} failed` : ""}`;
  }

  // --- what a tile is -------------------------------------------------------------------

  function source_of(insight) {
    const query = insight.query || {};
    return query.kind === "InsightVizNode" || query.kind === "DataVisualizationNode"
      ? query.source || {}
      : query;
  }

  function insightKind(insight) {
    const src = source_of(insight);
    const filters = insight.filters || {};
    const display = (src.trendsFilter || {}).display || filters.display;
    if (src.kind === "FunnelsQuery" || filters.insight === "FUNNELS") return "funnel";
    if (display === "BoldNumber") return "number";
    if (["TrendsQuery", "StickinessQuery", "LifecycleQuery"].includes(src.kind)) return "trends";
    if (filters.insight === "TRENDS" || filters.insight === "STICKINESS") return "trends";
    const r = insight.result;
    if (Array.isArray(r) && r.length && r.every((s) => s && Array.isArray(s.data))) return "trends";
    return "other";
  }

  function displayOf(insight) {
    return (source_of(insight).trendsFilter || {}).display || (insight.filters || {}).display || "";
  }

  // --- placing a tile on the grid ---------------------------------------------------------

  function layoutOf(tile) {
    const sm = ((tile && tile.layouts) || {}).sm;
    if (!sm || typeof sm !== "object") return null;
    const n = (v) => (v === null || v === undefined || v === "" ? NaN : Number(v));
    const x = n(sm.x), y = n(sm.y), w = n(sm.w), h = n(sm.h);
    if (![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) return null;
    const col = Math.min(Math.max(Math.round(x), 0), COLUMNS - 1);
    return { x: col, y: Math.max(Math.round(y), 0), w: Math.min(Math.round(w), COLUMNS - col), h: Math.round(h) };
  }

  function place(card, tile) {
    const layout = layoutOf(tile);
    if (!layout) {
      // No layout (a tile that failed before it was serialised): after the placed ones.
      card.classList.add("unplaced");
      card.style.order = "1000000";
      return;
    }
    card.style.gridColumn = `${layout.x + 1} / span ${layout.w}`;
    card.style.gridRow = `${layout.y + 1} / span ${layout.h}`;
    // One-column (narrow) order follows the layout: top to bottom, then left to right.
    card.style.order = String(layout.y * COLUMNS + layout.x);
    card.dataset.x = layout.x;
    card.dataset.y = layout.y;
    card.dataset.w = layout.w;
    card.dataset.h = layout.h;
  }

  // --- drawing ----------------------------------------------------------------------------

  function chartCanvas(body, label) {
    const holder = el("div", "chart");
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", label);
    holder.append(canvas);
    body.append(holder);
    return canvas;
  }

  function baseOptions() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 300 },
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { display: false } },
    };
  }

  function drawTrends(tileId, body, insight) {
    const series = (insight.result || []).filter((s) => s && Array.isArray(s.data));
    if (!series.length) return void body.append(el("p", "caption", "(no data)"));
    const display = displayOf(insight);
    const bar = display === "ActionsBar" || display === "ActionsUnstackedBar";
    const options = baseOptions();
    options.plugins.legend = { display: series.length > 1, position: "bottom" };
    options.scales = { y: { beginAtZero: true, ticks: { precision: 0 } } };
    const last = series.map((s) => `${s.label || "series"} ${fmt(s.data.at(-1))}`).join(", ");
    const chart = new Chart(chartCanvas(body, `${bar ? "Bar" : "Line"} chart; last values: ${last}`), {
      type: bar ? "bar" : "line",
      data: {
        labels: series[0].labels || series[0].days || series[0].data.map((_, i) => String(i + 1)),
        datasets: series.map((s, i) => ({
          label: s.label || `Series ${i + 1}`,
          data: s.data,
          borderColor: COLORS[i % COLORS.length],
          backgroundColor: COLORS[i % COLORS.length] + (bar ? "cc" : "22"),
          borderWidth: 2,
          pointRadius: 2,
          cubicInterpolationMode: "monotone",
          fill: !bar && series.length === 1,
        })),
      },
      options,
    });
    charts.set(tileId, chart);
  }

  function drawFunnel(tileId, body, insight) {
    const r = insight.result || [];
    const steps = (Array.isArray(r[0]) ? r[0] : r).filter((s) => s && typeof s === "object");
    if (!steps.length) return void body.append(el("p", "caption", "(no data)"));
    const first = Number(steps[0].count) || 0;
    const rate = (s) => (first ? (100 * (Number(s.count) || 0)) / first : 0);
    const options = baseOptions();
    options.indexAxis = "y";
    options.scales = { x: { beginAtZero: true, ticks: { precision: 0 } } };
    options.plugins.tooltip = {
      callbacks: { label: (ctx) => `${fmt(ctx.raw)} (${rate(steps[ctx.dataIndex]).toFixed(1)}%)` },
    };
    const summary = steps.map((s, i) => `step ${i + 1} ${fmt(Number(s.count) || 0)} (${rate(s).toFixed(1)}%)`);
    const chart = new Chart(chartCanvas(body, `Funnel: ${summary.join(", ")}`), {
      type: "bar",
      data: {
        // Two lines per step (name, then conversion from the first step) keep the axis narrow.
        labels: steps.map((s, i) => [`${i + 1}. ${s.custom_name || s.name || "step"}`, `${rate(s).toFixed(1)}%`]),
        datasets: [{ label: "persons", data: steps.map((s) => Number(s.count) || 0),
                     backgroundColor: COLORS[0] + "cc", borderRadius: 3 }],
      },
      options,
    });
    charts.set(tileId, chart);
  }

  function drawNumber(body, insight) {
    const r = insight.result;
    const s = (Array.isArray(r) ? r[0] : r) || {};
    const value = s.aggregated_value ?? s.count ?? (Array.isArray(s.data) ? s.data.at(-1) : undefined);
    body.append(el("div", "big", fmt(value)));
    if (s.label) body.append(el("div", "caption", s.label));
  }

  function drawOther(body, insight) {
    const r = insight.result;
    if (Array.isArray(r) && r.length && Array.isArray(insight.columns)) {
      const table = el("table");
      const head = el("tr");
      insight.columns.forEach((c) => head.append(el("th", "", String(c))));
      table.append(head);
      r.slice(0, 20).forEach((row) => {
        const tr = el("tr");
        (Array.isArray(row) ? row : [row]).forEach((v) => tr.append(el("td", "", typeof v === "object" ? JSON.stringify(v) : String(v))));
        table.append(tr);
      });
      body.append(table);
      return;
    }
    body.append(el("p", "caption", Array.isArray(r) ? `${r.length} result rows` : "(no chart for this insight)"));
  }

  function markdown(text) {
    // marked turns Markdown (and any HTML in it) into HTML; DOMPurify then removes every
    // script, event handler and javascript: URL before it reaches the document.
    const html = marked.parse(String(text || ""), { async: false, gfm: true, breaks: false });
    return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form"] });
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(String(url), window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function describe(tile) {
    if (tile.error && !tile.insight && !tile.text) {
      return { kind: "failed", title: `Tile ${tile.id}`, error: tile.error.message || String(tile.error) };
    }
    if (tile.text) return { kind: "text", title: "" };
    if (tile.button_tile) return { kind: "button", title: tile.button_tile.text || "Link" };
    if (!tile.insight) return { kind: "other", title: `Tile ${tile.id}` };
    const ins = tile.insight;
    return { kind: insightKind(ins), title: ins.name || ins.derived_name || `Insight ${ins.id}` };
  }

  function render(tile) {
    const d = describe(tile);
    const card = el("article", `tile ${d.kind}-tile`);
    card.dataset.tileId = tile.id;
    card.dataset.kind = d.kind;
    if (d.title) card.append(el("h3", "", d.title));
    const body = el("div", "body");
    card.append(body);
    place(card, tile);
    // Charts measure their container: the card is in the document before they draw.
    const old = grid.querySelector(`.tile[data-tile-id="${CSS.escape(String(tile.id))}"]`);
    if (old) {
      destroyChart(tile.id);
      old.replaceWith(card);
    } else {
      grid.append(card);
    }
    drawn.set(String(tile.id), d.kind === "failed");
    try {
      switch (d.kind) {
        case "failed":
          card.classList.add("failed");
          body.append(el("p", "error", `✗ ${d.error}`));
          break;
        case "text":
          body.classList.add("markdown");
          body.innerHTML = markdown(tile.text.body);
          break;
        case "button": {
          const url = safeUrl(tile.button_tile.url);
          const link = el("a", "", url || "(unsupported link)");
          if (url) { link.href = url; link.rel = "noopener noreferrer"; link.target = "_blank"; }
          body.append(link);
          break;
        }
        case "trends": drawTrends(tile.id, body, tile.insight); break;
        case "funnel": drawFunnel(tile.id, body, tile.insight); break;
        case "number": drawNumber(body, tile.insight); break;
        case "other":
          if (tile.insight) drawOther(body, tile.insight);
          break;
      }
    } catch (err) {
      // A tile the page cannot draw is marked in place; the others go on.
      card.classList.add("failed");
      drawn.set(String(tile.id), true);
      body.replaceChildren(el("p", "error", `✗ could not draw this tile: ${err && err.message}`));
    }
  }

  function renderTileError(tileId, message) {
    render({ id: tileId, error: { message } });
  }

  function destroyChart(tileId) {
    const chart = charts.get(tileId);
    if (chart) { chart.destroy(); charts.delete(tileId); }
  }

  function clearGrid() {
    charts.forEach((chart) => chart.destroy());
    charts.clear();
    grid.replaceChildren();
    drawn.clear();
  }

  // --- the stream -------------------------------------------------------------------------

  function open(id) {
    if (source) source.close();
    clearGrid();
    retries = 0;
    document.querySelectorAll("#dashboards a").forEach((a) => a.classList.toggle("current", a.dataset.id === String(id)));
    $("title").textContent = `Dashboard ${id}`;
    $("description").textContent = "";
    noteEl.textContent = "";
    setStatus("streaming", "connecting…");
    const stream = new EventSource(`api/dashboards/${encodeURIComponent(id)}/stream`);
    source = stream;
    stream.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      switch (event.type) {
        case "metadata": {
          // A reconnect replays the dashboard from the start: draw it afresh.
          clearGrid();
          retries = 0;
          const dash = event.dashboard || {};
          $("title").textContent = dash.name || `Dashboard ${id}`;
          document.title = `${dash.name || `Dashboard ${id}`} — live view`;
          $("description").textContent = dash.description || "";
          (dash.tiles || []).forEach(render);
          setStatus("streaming", `${progress(false)}… streaming`);
          break;
        }
        case "tile":
          render(event.tile || {});
          setStatus("streaming", `${progress(false)}… streaming`);
          break;
        case "error":
          if (event.tile_id !== undefined && event.tile_id !== null) {
            renderTileError(event.tile_id, event.error);
            setStatus("streaming", `${progress(false)}… streaming`);
          } else {
            stream.close();
            setStatus("failed", `failed: ${event.error || "the stream broke"}`);
          }
          break;
        case "complete":
          stream.close();
          setStatus("complete", `complete: ${progress(true)}`);
          if (event.fallback_used) {
            noteEl.textContent = "PostHog does not stream to this credential: the dashboard was read in one request.";
          }
          break;
        default:
          break; // an event type this page does not know: nothing to draw
      }
    };
    stream.onerror = () => {
      if (statusEl.dataset.state !== "streaming") return;
      // EventSource reconnects by itself; the server then replays the dashboard. A server
      // that keeps failing is given up on after a few attempts.
      retries += 1;
      if (stream.readyState === EventSource.CLOSED || retries > 3) {
        stream.close();
        setStatus("failed", "failed: the connection to the local server was lost");
      } else {
        setStatus("streaming", `${progress(false)}… connection lost, reconnecting`);
      }
    };
  }

  async function loadList(selected) {
    let items;
    try {
      const response = await fetch("api/dashboards", { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      items = await response.json();
    } catch (_) {
      return;
    }
    if (!Array.isArray(items)) return;
    const list = $("dashboards");
    list.replaceChildren();
    items.forEach((d) => {
      const a = el("a", "", `${d.pinned ? "★ " : ""}${d.name || "(untitled)"}`);
      a.href = `?dashboard=${encodeURIComponent(d.id)}`;
      a.dataset.id = String(d.id);
      a.classList.toggle("current", String(d.id) === String(selected));
      a.addEventListener("click", (e) => {
        e.preventDefault();
        history.pushState(null, "", a.href);
        open(d.id);
      });
      list.append(a);
    });
    $("nav").hidden = false;
  }

  function selectedId() {
    const value = new URLSearchParams(window.location.search).get("dashboard");
    return value && /^[1-9][0-9]*$/.test(value) ? value : null;
  }

  window.addEventListener("popstate", () => { const id = selectedId(); if (id) open(id); });
  const initial = selectedId();
  loadList(initial);
  if (initial) open(initial);
  else setStatus("idle", "");
  // For tests and debugging: the charts drawn, by tile id.
  window.posthogDashView = { charts };
})();
