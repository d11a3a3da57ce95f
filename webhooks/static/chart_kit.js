// What every chart of the dashboard shares: colours, Chart.js defaults, number formats, and
// the helpers that draw a chart, its figures and its table, or say why a card is empty.
// Loaded after Chart.js and before charts.js, which draws each report with these.
"use strict";

window.chartKit = (() => {
  // Fixed colours, so the same thing looks the same on every chart.
  const COLOR = {
    on: "#4e79a7", // went on / live
    abandoned: "#e15759",
    escaped: "#f28e2b",
    callback: "#59a14f",
    calls: "#76716e",
    offered: "#9c755f",
    requested: "#edc948",
    pending: "#bab0ac",
    hold: "#b07aa1",
  };
  // How callers asked for a person (escape `via`), in the API's order.
  const VIAS = ["digit", "speech", "failures", "error", "fallback"];
  const VIA_LABEL = {
    digit: "the escape key", speech: "said so", failures: "too many failed tries",
    error: "an error", fallback: "Twilio's fallback",
  };
  const VIA_COLOR = {
    digit: "#4e79a7", speech: "#76b7b2", failures: "#f28e2b", error: "#e15759", fallback: "#9c755f",
  };

  const $ = (selector) => document.querySelector(selector);
  const charts = {};

  Chart.defaults.animation = false; // redraws every N seconds should not dance
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.layout.padding = { top: 16 }; // room for the figures above the bars
  Chart.defaults.scales.linear.grace = "10%"; // ... of the tallest bar, under the legend
  Chart.defaults.datasets.bar.maxBarThickness = 80; // one or two queues: bars, not walls
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  // ---------- formatting ----------
  const count = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const pct = (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(1)}%`);
  function dur(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} m`;
  }
  const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;

  // A card shows its chart, or says plainly why there is none.
  function card(id, message) {
    const element = $(`#${id}`);
    const noData = element.querySelector(".no-data");
    for (const part of element.querySelectorAll(".chart, .stats")) part.hidden = Boolean(message);
    noData.hidden = !message;
    noData.textContent = message || "";
    return !message;
  }

  function chart(id, config) {
    if (charts[id]) {
      charts[id].data = config.data;
      charts[id].options = config.options;
      charts[id].update();
    } else {
      charts[id] = new Chart($(`#${id}`), config);
    }
  }

  // Writes each bar's figure above it, so a 0% bar still says 0% and not nothing.
  // It reads the figures from the chart, so it stays right when the data is replaced.
  function valueLabels(format) {
    return {
      id: "valueLabels",
      afterDatasetsDraw(chart) {
        const { ctx } = chart;
        ctx.save();
        ctx.fillStyle = "#1f2933";
        ctx.font = `12px ${Chart.defaults.font.family}`;
        ctx.textAlign = "center";
        ctx.textBaseline = "bottom";
        chart.data.datasets.forEach((dataset, i) => {
          chart.getDatasetMeta(i).data.forEach((element, j) => {
            const text = format(dataset.data[j], dataset);
            if (text) ctx.fillText(text, element.x, element.y - 3);
          });
        });
        ctx.restore();
      },
    };
  }

  function bar(label, data, color, extra = {}) {
    return { type: "bar", label, data, backgroundColor: color, borderColor: color, ...extra };
  }

  // Fills a table's body with rows of cells (text only: names come from callers' data).
  function fillTable(id, rows) {
    const body = $(`#${id} tbody`);
    body.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement("tr");
      cells.forEach((text, i) => {
        const cell = document.createElement(i === 0 ? "th" : "td");
        cell.textContent = text;
        tr.append(cell);
      });
      return tr;
    }));
  }

  // A % axis: the room above the tallest bar (for its figure) is not labelled past 100%.
  const PERCENT_AXIS = { min: 0, suggestedMax: 20, ticks: { callback: (v) => (v <= 100 ? v : "") } };
  const percent = (r) => (r === null || r === undefined ? null : r * 100);
  const percentLabel = (v) => (v === null || v === undefined ? "" : `${v.toFixed(1)}%`);

  return {
    COLOR, VIAS, VIA_LABEL, VIA_COLOR, $, count, pct, dur, clock, card, chart, valueLabels, bar,
    fillTable, PERCENT_AXIS, percent, percentLabel,
  };
})();
