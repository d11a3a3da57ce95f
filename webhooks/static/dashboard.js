// The dashboard: fetch /api/reports/* with the chosen filters, draw them (charts.js), and
// do it again every N seconds. No build step: plain browser JavaScript.
"use strict";

(() => {
  const REPORTS = ["summary", "abandonment", "time-to-agent", "callbacks", "funnel"];
  const DAY_MS = 86400000;

  const $ = (selector) => document.querySelector(selector);
  const params = new URLSearchParams(location.search);
  // The API key comes once in the address (?key=...), since a browser cannot send a header
  // when opening a page; every fetch then sends it as X-API-Key.
  const apiKey = params.get("key");
  let timer = null;
  let generation = 0; // answers of an older request are dropped when filters changed since
  const charts = window.dashboardCharts;
  // The two filters whose choices come from the API (the flows and queues that have calls).
  const CHOICES = ["flow", "queue"];

  // ---------- filters ----------
  function filtersFromAddress() {
    $("#since").value = params.get("since") || "";
    $("#until").value = params.get("until") || "";
    const refresh = params.get("refresh");
    const seconds = refresh !== null && /^\d+$/.test(refresh) ? Number(refresh) : 30;
    const select = $("#refresh");
    if (![...select.options].some((o) => Number(o.value) === seconds)) {
      select.add(new Option(`every ${seconds} s`, String(seconds)));
    }
    select.value = String(seconds);
  }

  // The query sent to the API. "To" is inclusive for people, `until` exclusive for the API.
  function apiQuery() {
    const q = new URLSearchParams();
    const since = $("#since").value;
    const until = $("#until").value;
    if (since) q.set("since", since);
    if (until) q.set("until", new Date(Date.parse(until) + DAY_MS).toISOString().slice(0, 10));
    for (const name of CHOICES) {
      // Before the choices are loaded the select is empty: the address says what was picked.
      const value = $(`#${name}`).value || params.get(name) || "";
      if (value) q.set(name, value);
    }
    return q;
  }

  // Keep the filters in the address, so a reload or a bookmark shows the same view.
  function rememberFilters() {
    for (const name of ["since", "until", ...CHOICES, "refresh"]) {
      const value = $(`#${name}`).value;
      if (value && !(name === "refresh" && value === "30")) params.set(name, value);
      else params.delete(name);
    }
    history.replaceState(null, "", `${location.pathname}?${params}`.replace(/\?$/, ""));
  }

  // ---------- fetching ----------
  async function getJSON(path) {
    const headers = { Accept: "application/json" };
    if (apiKey) headers["X-API-Key"] = apiKey;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (!response.ok) {
      let detail = "";
      try { detail = (await response.json()).detail || ""; } catch (e) { /* not JSON */ }
      if (typeof detail !== "string") detail = JSON.stringify(detail); // e.g. a 422's list
      const hint = response.status === 401 || response.status === 403
        ? " The API needs a key: open this page as /?key=YOUR_KEY." : "";
      const why = detail ? `: ${detail}` : "";
      throw new Error(`${path.split("?")[0]} answered ${response.status}${why}.${hint}`);
    }
    return response.json();
  }

  async function load() {
    clearTimeout(timer);
    const mine = ++generation;
    const query = apiQuery().toString();
    const suffix = query ? `?${query}` : "";
    $("#status").textContent = "Loading…";
    try {
      const [flows, queues, ...reports] = await Promise.all([
        getJSON("api/flows"),
        getJSON("api/queues"),
        ...REPORTS.map((name) => getJSON(`api/reports/${name}${suffix}`)),
      ]);
      if (mine !== generation) return;
      const [summary, abandonment, tta, callbacks, funnel] = reports;
      showChoices("flow", flows);
      showChoices("queue", queues);
      draw(summary, abandonment, tta, callbacks, funnel);
      $("#error").hidden = true;
      document.body.dataset.state = summary.calls > 0 ? "ready" : "empty";
      $("#status").textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}`;
    } catch (error) {
      if (mine !== generation) return;
      $("#error").textContent = `Could not load the reports: ${error.message}`;
      $("#error").hidden = false;
      document.body.dataset.state = "error";
      $("#status").textContent = "Not updated";
    } finally {
      if (mine === generation) {
        document.body.dataset.loads = String(Number(document.body.dataset.loads) + 1);
        schedule();
      }
    }
  }

  function schedule() {
    clearTimeout(timer);
    const seconds = Number($("#refresh").value);
    if (seconds > 0) timer = setTimeout(load, seconds * 1000);
  }

  // The options of a filter: what the API lists, plus the one chosen (even with no calls).
  function showChoices(name, names) {
    const select = $(`#${name}`);
    const chosen = select.value || params.get(name) || "";
    const ids = [...new Set([...names, ...(chosen ? [chosen] : [])])].sort();
    const have = [...select.options].slice(1).map((o) => o.value);
    if (have.join("\n") !== ids.join("\n")) {
      select.length = 1;
      for (const id of ids) select.add(new Option(id, id));
    }
    select.value = chosen;
  }

  // ---------- drawing ----------
  function draw(summary, abandonment, tta, callbacks, funnel) {
    charts.drawSummary(summary);
    const none = summary.calls === 0;
    // Rates leave short abandons out: when every call is one, say so rather than draw nothing.
    const onlyShort = !none && summary.calls === summary.short_abandons;
    const q = apiQuery();
    const where = [q.get("flow") && `for flow ${q.get("flow")}`,
      q.get("queue") && `in queue ${q.get("queue")}`,
      $("#since").value && `from ${$("#since").value}`,
      $("#until").value && `to ${$("#until").value}`].filter(Boolean).join(" ");
    const empty = $("#empty");
    empty.hidden = !none && !onlyShort;
    if (none) {
      empty.textContent = where
        ? `No calls ${where}. Widen the dates or pick another flow or queue.`
        : "No calls yet. Calls appear here as soon as they are logged.";
    } else if (onlyShort) {
      empty.textContent = `${summary.calls === 1 ? "The only call" : `All ${summary.calls} calls`} `
        + "hung up within seconds of the start (short abandons), which the rates and charts "
        + "leave out. Calls that last longer show here.";
    }
    const nothing = none ? (where ? "No calls for these filters." : "No calls yet.") : "";
    const counted = nothing || (onlyShort ? "Only short abandons so far: left out of the rates." : "");
    charts.drawFunnel(funnel, counted);
    charts.drawByHour(abandonment, counted);
    charts.drawByWeekday(abandonment, counted);
    charts.drawByQueue(abandonment, counted);
    charts.drawEscapesByNode(abandonment, counted);
    charts.drawEscapesByHow(abandonment, counted);
    charts.drawTimeToAgent(tta, nothing);
    charts.drawHold(tta, nothing);
    charts.drawCallbacks(callbacks, nothing);
    charts.drawCallbacksByQueue(callbacks, nothing);
    charts.drawVersions(abandonment, counted);
  }

  // ---------- wiring ----------
  filtersFromAddress();
  for (const name of ["since", "until", ...CHOICES]) {
    $(`#${name}`).addEventListener("change", () => { rememberFilters(); load(); });
  }
  $("#refresh").addEventListener("change", () => { rememberFilters(); schedule(); });
  $("#reload").addEventListener("click", load);
  load();
})();
