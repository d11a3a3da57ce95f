// The summary tiles, the charts and their tables, drawn with Chart.js from the reports' JSON
// (with the helpers of chart_kit.js). Loaded before dashboard.js, which fetches the reports
// and calls these.
"use strict";

window.dashboardCharts = (() => {
  const {
    COLOR, VIAS, VIA_LABEL, VIA_COLOR, $, count, pct, dur, clock, card, chart, valueLabels, bar,
    fillTable, PERCENT_AXIS, percent, percentLabel,
  } = window.chartKit;

  function drawSummary(s) {
    const set = (name, text) => { $(`[data-summary="${name}"]`).textContent = text; };
    const t = s.time_to_agent || {};
    const cb = s.callbacks || {};
    set("calls", count(s.calls));
    set("abandonment_rate", pct(s.abandonment_rate));
    set("abandoned", count(s.abandoned));
    set("short_abandons", count(s.short_abandons));
    set("reached_agent", count(s.reached_agent));
    set("time_to_agent", [t.p50, t.p90, t.p99].map(dur).join(" / "));
    set("time_to_agent_mean", dur(t.mean));
    set("escape_rate", pct(s.escape_rate));
    set("callbacks", [cb.requested, cb.completed, cb.failed].map(count).join(" / "));
    set("callbacks_offered", count(cb.offered));
  }

  // Menu-tree order, as an outline: from the node nobody is sent to (else the busiest),
  // each node followed by the nodes it sends callers to, busiest branch first.
  function treeOrder(nodes) {
    const byName = new Map(nodes.map((n) => [n.node, n]));
    const targets = new Set(nodes.flatMap((n) => Object.keys(n.next || {})));
    const byEntered = (a, b) => b.entered - a.entered;
    const roots = nodes.filter((n) => !targets.has(n.node)).sort(byEntered);
    const order = [];
    const seen = new Set();
    const visit = (node, depth) => {
      if (seen.has(node.node)) return;
      seen.add(node.node);
      order.push([node, depth]);
      Object.entries(node.next || {})
        .sort((a, b) => b[1] - a[1])
        .map(([name]) => byName.get(name))
        .filter(Boolean)
        .forEach((child) => visit(child, depth + 1));
    };
    for (const node of [...roots, ...[...nodes].sort(byEntered)]) visit(node, 0);
    return order;
  }

  function drawFunnel(funnel, nothing) {
    const nodes = (funnel && funnel.nodes) || [];
    $("#funnel-flow").textContent = funnel && funnel.flow ? `(${funnel.flow})` : "";
    if (!card("funnel-card", nothing || (nodes.length ? "" : "No caller entered a node."))) return;
    const order = treeOrder(nodes);
    $("#funnel-box").style.height = `${Math.max(160, order.length * 34 + 70)}px`;
    const indent = (depth) => (depth ? `${"\u2003".repeat(Math.min(depth, 8) - 1)}\u2514 ` : "");
    const labels = order.map(([n, depth]) => `${indent(depth)}${n.node}`);
    const rows = order.map(([n]) => n);
    chart("funnel-chart", {
      type: "bar",
      data: {
        labels,
        datasets: [
          bar("went on", rows.map((n) => Math.max(0, n.entered - n.abandoned - n.escaped)), COLOR.on),
          bar("hung up here", rows.map((n) => n.abandoned), COLOR.abandoned),
          bar("asked for a person here", rows.map((n) => n.escaped), COLOR.escaped),
        ],
      },
      options: {
        indexAxis: "y",
        scales: { x: { stacked: true, title: { display: true, text: "callers" }, ticks: { precision: 0 } },
                  y: { stacked: true, ticks: { crossAlign: "far" } } }, // left-aligned: the indent shows
        plugins: {
          tooltip: {
            callbacks: {
              footer: (items) => {
                const n = rows[items[0].dataIndex];
                const next = Object.entries(n.next || {}).map(([to, k]) => `→ ${to}: ${k}`);
                return [`entered: ${n.entered}`, ...next];
              },
            },
          },
        },
      },
    });
  }

  function drawTimeToAgent(tta, nothing) {
    const bins = (tta && tta.histogram) || [];
    const reached = (tta.live?.count || 0) + (tta.callback?.count || 0);
    if (!card("tta-card", nothing || (reached ? "" : "No caller reached a person yet."))) return;
    const row = (name, s) => {
      const cells = $(`#tta-stats [data-row="${name}"]`).querySelectorAll("td");
      const values = [name === "on_hold" ? "" : count(s?.count), dur(s?.p50), dur(s?.p90), dur(s?.p99), dur(s?.mean)];
      values.forEach((v, i) => { cells[i].textContent = v; });
    };
    row("live", tta.live);
    row("callback", tta.callback);
    row("on_hold", tta.callback?.on_hold);
    chart("tta-chart", {
      type: "bar",
      data: {
        labels: bins.map((b) => (b.to === null ? `${clock(b.from)}+` : clock(b.from))),
        datasets: [
          bar(`live (p50 ${dur(tta.live?.p50)}, p90 ${dur(tta.live?.p90)})`, bins.map((b) => b.live), COLOR.on),
          bar(`callback (p50 ${dur(tta.callback?.p50)})`, bins.map((b) => b.callback), COLOR.callback),
        ],
      },
      options: {
        plugins: {
          tooltip: { callbacks: { title: (items) => {
            const b = bins[items[0].dataIndex];
            return b.to === null ? `${clock(b.from)} or more` : `${clock(b.from)} to ${clock(b.to)}`;
          } } },
        },
        scales: { x: { title: { display: true, text: "minutes:seconds until a person was on the line" } },
                  y: { title: { display: true, text: "callers" }, ticks: { precision: 0 } } },
      },
    });
  }

  function drawByHour(abandonment, nothing) {
    const hours = (abandonment && abandonment.by_hour) || [];
    if (!card("hour-card", nothing || (hours.some((h) => h.calls > 0) ? "" : "No calls by hour."))) return;
    chart("hour-chart", {
      type: "bar",
      data: {
        labels: hours.map((h) => String(h.hour).padStart(2, "0")),
        datasets: [
          bar("abandonment rate", hours.map((h) => (h.rate === null ? null : h.rate * 100)), COLOR.abandoned,
            { yAxisID: "rate", order: 2 }),
          { type: "line", label: "calls", data: hours.map((h) => h.calls), borderColor: COLOR.calls,
            backgroundColor: COLOR.calls, yAxisID: "calls", order: 1, pointRadius: 2, borderWidth: 1.5 },
        ],
      },
      options: {
        scales: {
          rate: { position: "left", ...PERCENT_AXIS, title: { display: true, text: "% abandoned" } },
          calls: { position: "right", min: 0, grid: { drawOnChartArea: false }, ticks: { precision: 0 },
                   title: { display: true, text: "calls" } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => {
                const h = hours[item.dataIndex];
                return item.dataset.yAxisID === "rate"
                  ? `abandoned ${h.abandoned} of ${h.calls} (${pct(h.rate)})` : `calls: ${h.calls}`;
              },
            },
          },
        },
      },
    });
  }

  function drawCallbacks(cb, nothing) {
    if (!card("callbacks-card", nothing || (cb.offered || cb.requested ? "" : "No callback was offered."))) return;
    const t = cb.time_to_callback || {};
    $("#callbacks-note").textContent =
      `${pct(cb.accepted_rate)} of offers taken; time to callback p50 ${dur(t.p50)}, p90 ${dur(t.p90)}, p99 ${dur(t.p99)}.`;
    const names = ["offered", "requested", "completed", "failed", "pending"];
    const colors = [COLOR.offered, COLOR.requested, COLOR.callback, COLOR.abandoned, COLOR.pending];
    chart("callbacks-chart", {
      type: "bar",
      data: { labels: names, datasets: [bar("callbacks", names.map((n) => cb[n] || 0), colors)] },
      plugins: [valueLabels((v) => count(v))],
      options: {
        plugins: { legend: { display: false } },
        scales: { y: { min: 0, ticks: { precision: 0 }, title: { display: true, text: "callbacks" } } },
      },
    });
  }

  function drawVersions(abandonment, nothing) {
    const versions = [...((abandonment && abandonment.by_flow_version) || [])]
      .sort((a, b) => a.flow.localeCompare(b.flow) || a.first_call.localeCompare(b.first_call));
    if (!card("versions-card", nothing || (versions.length ? "" : "No flow versions yet."))) return;
    chart("versions-chart", {
      type: "bar",
      data: {
        labels: versions.map((v) => [`${v.flow} ${v.version.slice(0, 8)}`,
          `since ${v.first_call.slice(0, 10)} · ${v.calls} calls`]),
        datasets: [bar("abandonment rate", versions.map((v) => (v.rate === null ? null : v.rate * 100)), COLOR.abandoned)],
      },
      plugins: [valueLabels((v) => (v === null ? "–" : `${v.toFixed(1)}%`))],
      options: {
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => {
            const v = versions[item.dataIndex];
            return `abandoned ${v.abandoned} of ${v.calls} calls (${pct(v.rate)})`;
          } } },
        },
        scales: { y: { ...PERCENT_AXIS, title: { display: true, text: "% abandoned" } } },
      },
    });
  }

  function drawByWeekday(abandonment, nothing) {
    const days = (abandonment && abandonment.by_weekday) || [];
    if (!card("weekday-card", nothing || (days.some((d) => d.calls > 0) ? "" : "No calls by weekday."))) return;
    chart("weekday-chart", {
      type: "bar",
      data: {
        labels: days.map((d) => [d.weekday, `${count(d.calls)} calls`]),
        datasets: [bar("abandonment rate", days.map((d) => percent(d.rate)), COLOR.abandoned)],
      },
      plugins: [valueLabels(percentLabel)],
      options: {
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => {
            const d = days[item.dataIndex];
            return `abandoned ${d.abandoned} of ${d.calls} (${pct(d.rate)})`;
          } } },
        },
        scales: { y: { ...PERCENT_AXIS, title: { display: true, text: "% abandoned" } } },
      },
    });
  }

  function drawByQueue(abandonment, nothing) {
    const queues = (abandonment && abandonment.by_queue) || [];
    if (!card("queue-card", nothing || (queues.length ? "" : "No caller waited in a queue yet."))) return;
    fillTable("queue-stats", queues.map((q) => [q.queue, count(q.calls), count(q.abandoned),
      pct(q.rate), dur(q.mean_wait), dur(q.mean_abandoned_wait)]));
    chart("queue-chart", {
      type: "bar",
      data: {
        labels: queues.map((q) => [q.queue, `${count(q.calls)} calls`]),
        datasets: [
          bar("hung up while waiting (%)", queues.map((q) => percent(q.rate)), COLOR.abandoned,
            { yAxisID: "rate" }),
          bar("mean wait", queues.map((q) => q.mean_wait), COLOR.hold, { yAxisID: "wait" }),
        ],
      },
      plugins: [valueLabels((v, dataset) => (v === null || v === undefined ? ""
        : dataset.yAxisID === "rate" ? percentLabel(v) : dur(v)))],
      options: {
        scales: {
          rate: { position: "left", ...PERCENT_AXIS, title: { display: true, text: "% hung up waiting" } },
          wait: { position: "right", min: 0, grid: { drawOnChartArea: false },
                  title: { display: true, text: "mean wait, seconds" } },
        },
      },
    });
  }

  function drawEscapesByNode(abandonment, nothing) {
    const nodes = [...((abandonment && abandonment.escapes_by_node) || [])]
      .sort((a, b) => b.escapes - a.escapes || a.node.localeCompare(b.node));
    if (!card("escape-node-card", nothing || (nodes.length ? "" : "No caller asked for a person yet."))) return;
    fillTable("escape-node-stats", nodes.map((n) => [n.node, count(n.calls), count(n.escapes), pct(n.rate)]));
    chart("escape-node-chart", {
      type: "bar",
      data: {
        labels: nodes.map((n) => n.node),
        datasets: VIAS.map((via) => bar(VIA_LABEL[via], nodes.map((n) => (n.via || {})[via] || 0),
          VIA_COLOR[via])),
      },
      options: {
        indexAxis: "y",
        scales: { x: { stacked: true, min: 0, ticks: { precision: 0 }, title: { display: true, text: "callers who asked for a person" } },
                  y: { stacked: true } },
        plugins: {
          tooltip: { callbacks: { footer: (items) => {
            const n = nodes[items[0].dataIndex];
            return `${n.escapes} of ${n.calls} who entered (${pct(n.rate)})`;
          } } },
        },
      },
    });
  }

  function drawEscapesByHow(abandonment, nothing) {
    const nodes = (abandonment && abandonment.escapes_by_node) || [];
    const totals = VIAS.map((via) => nodes.reduce((sum, n) => sum + ((n.via || {})[via] || 0), 0));
    const any = totals.some((n) => n > 0);
    if (!card("escape-how-card", nothing || (any ? "" : "No caller asked for a person yet."))) return;
    chart("escape-how-chart", {
      type: "bar",
      data: {
        labels: VIAS.map((via) => [via, VIA_LABEL[via]]),
        datasets: [bar("escapes", totals, VIAS.map((via) => VIA_COLOR[via]))],
      },
      plugins: [valueLabels((v) => count(v))],
      options: {
        plugins: { legend: { display: false } },
        scales: { y: { min: 0, ticks: { precision: 0 }, title: { display: true, text: "callers" } } },
      },
    });
  }

  function drawHold(tta, nothing) {
    const live = (tta && tta.live) || {};
    const back = (tta && tta.callback) || {};
    const reached = (live.count || 0) + (back.count || 0);
    if (!card("hold-card", nothing || (reached ? "" : "No caller reached a person yet."))) return;
    const rows = {
      "live-agent": live, "live-hold": live.on_hold, "callback-agent": back, "callback-hold": back.on_hold,
    };
    for (const [name, s] of Object.entries(rows)) {
      const cells = $(`#hold-stats [data-row="${name}"]`).querySelectorAll("td");
      [s?.p50, s?.p90, s?.p99, s?.mean].map(dur).forEach((v, i) => { cells[i].textContent = v; });
    }
    chart("hold-chart", {
      type: "bar",
      data: {
        labels: [`live (${count(live.count)} calls)`, `callback (${count(back.count)} calls)`],
        datasets: [
          bar("until a person was on the line", [live.p50 ?? null, back.p50 ?? null], COLOR.on),
          bar("on hold", [live.on_hold?.p50 ?? null, back.on_hold?.p50 ?? null], COLOR.hold),
        ],
      },
      plugins: [valueLabels((v) => (v === null || v === undefined ? "" : dur(v)))],
      options: {
        scales: { y: { min: 0, title: { display: true, text: "seconds (median)" } } },
      },
    });
  }

  function drawCallbacksByQueue(cb, nothing) {
    const queues = (cb && cb.by_queue) || [];
    if (!card("callbacks-queue-card", nothing || (queues.length ? "" : "No callback was offered or asked for."))) return;
    const names = ["offered", "requested", "completed", "failed"];
    const colors = [COLOR.offered, COLOR.requested, COLOR.callback, COLOR.abandoned];
    chart("callbacks-queue-chart", {
      type: "bar",
      data: {
        labels: queues.map((q) => q.queue),
        datasets: names.map((n, i) => bar(n, queues.map((q) => q[n] || 0), colors[i])),
      },
      plugins: [valueLabels((v) => count(v))],
      options: {
        scales: { y: { min: 0, ticks: { precision: 0 }, title: { display: true, text: "callbacks" } } },
      },
    });
  }

  return {
    drawSummary, drawFunnel, drawTimeToAgent, drawByHour, drawByWeekday, drawByQueue,
    drawEscapesByNode, drawEscapesByHow, drawHold, drawCallbacks, drawCallbacksByQueue, drawVersions,
  };
})();
