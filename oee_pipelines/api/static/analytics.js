// The OEE dashboard and export page: asks for the API key once (sessionStorage only), downloads the API's
// own export files, and draws the dashboard from `/api/oee/dashboard/*`: every number shown is the
// API's, computed on the server (time-weighted); this file only draws it (charts: vendored ECharts).
(function () {
  "use strict";
  const KEY_STORAGE = "oee_api_key";
  const MAX_PAGES = 1000;
  const $ = (id) => document.getElementById(id);

  let chartRequest = 0; // only the latest chart request may draw: answers can arrive out of order
  let trendRequest = 0;

  const apiKey = () => sessionStorage.getItem(KEY_STORAGE);

  function showStatus(message, isError) {
    $("status").textContent = message;
    $("status").classList.toggle("error", Boolean(isError));
  }

  function showKeyForm() {
    sessionStorage.removeItem(KEY_STORAGE);
    if (liveSocket) liveSocket.close();
    $("workspace").hidden = true;
    $("forget-key").hidden = true;
    $("key-form").hidden = false;
    $("api-key").focus();
  }

  async function apiFetch(url) {
    const response = await fetch(url, { headers: { "X-API-Key": apiKey() } });
    if (response.status === 401) {
      showKeyForm();
      throw new Error("the API key was refused; enter a valid key");
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const message = body.detail || (body.error && body.error.message) || response.statusText;
      throw new Error(`${response.status}: ${message}`);
    }
    return response;
  }

  async function odataRows(url) {
    const rows = [];
    let next = url;
    for (let page = 0; next && page < MAX_PAGES; page += 1) {
      const body = await (await apiFetch(next)).json();
      rows.push(...body.value);
      next = body["@odata.nextLink"];
    }
    return rows;
  }

  const isoDay = (date) => date.toISOString().slice(0, 10);

  function applyPreset() {
    const days = Number($("preset").value);
    if (!days) return;
    // The last N whole UTC days, ending yesterday: every day in the range is complete.
    const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
    $("date-from").value = isoDay(new Date(today.getTime() - days * 86400000));
    $("date-to").value = isoDay(new Date(today.getTime() - 86400000));
  }

  function selection() {
    return {
      table: $("table").value,
      from: $("date-from").value,
      to: $("date-to").value,
      machine: $("table").value === "snapshots" ? $("machine").value : "",
      chartMachine: $("machine").value,
    };
  }

  async function loadMachines() {
    const machines = await odataRows("/odata/Machines?$select=machine_id,name&$orderby=name");
    const select = $("machine");
    select.replaceChildren(new Option("All machines", ""));
    machines.forEach((machine) => select.append(new Option(`${machine.name} (${machine.machine_id})`, machine.machine_id)));
  }

  function filenameOf(response, fallback) {
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return match ? match[1] : fallback;
  }

  async function download(format) {
    const chosen = selection();
    const params = new URLSearchParams({ format, date_from: chosen.from, date_to: chosen.to });
    if (chosen.machine) params.set("machine_id", chosen.machine);
    showStatus(`Exporting ${chosen.table} as ${format.toUpperCase()}...`);
    try {
      const response = await apiFetch(`/api/oee/export/${chosen.table}?${params}`);
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = filenameOf(response, `export.${format}`);
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      showStatus(`Downloaded ${link.download} (${blob.size.toLocaleString()} bytes).`);
    } catch (error) {
      showStatus(`Export failed: ${error.message}`, true);
    }
  }

  const fixed = (value) => (value === null || value === undefined ? "\u2013" : value.toFixed(1));
  const LOSS_STEPS = [
    ["scheduled_minutes", "Scheduled", "total"],
    ["planned_stops_minutes", "Planned stops", "loss"],
    ["planned_production_minutes", "Planned production", "total"],
    ["breakdowns_minutes", "Breakdowns", "loss"],
    ["setup_adjustments_minutes", "Setup & adjustments", "loss"],
    ["small_stops_minutes", "Small stops", "loss"],
    ["reduced_speed_minutes", "Reduced speed", "loss"],
    ["startup_rejects_minutes", "Startup rejects", "loss"],
    ["production_rejects_minutes", "Production rejects", "loss"],
    ["fully_productive_minutes", "Fully productive", "total"],
  ];
  const FACTORS = window.OeeChart.SERIES;
  const charts = {};

  function echart(id) {
    if (!window.echarts) return null;
    if (!charts[id]) charts[id] = window.echarts.init($(id), null, { renderer: "svg" });
    return charts[id];
  }

  function dashboardParams(chosen, extra) {
    const params = new URLSearchParams({ date_from: chosen.from, date_to: chosen.to, ...extra });
    if (chosen.chartMachine) params.set("machine_id", chosen.chartMachine);
    return params;
  }

  function factorCells(row, item, idAttribute) {
    ["oee", "availability", "performance", "quality", "planned_production_minutes"].forEach((field) => {
      const cell = row.insertCell();
      cell.textContent = fixed(item[field]);
      cell.dataset.field = field;
      cell.dataset[idAttribute] = item[idAttribute === "machine" ? "machine_id" : "line_id"];
    });
  }

  function renderTables(summary) {
    const machines = $("machine-table").tBodies[0];
    machines.replaceChildren();
    summary.machines.forEach((machine) => {
      const row = machines.insertRow();
      row.dataset.machine = machine.machine_id;
      row.tabIndex = 0;
      row.insertCell().textContent = machine.machine_name;
      row.insertCell().textContent = machine.line_id;
      factorCells(row, machine, "machine");
    });
    const lines = $("line-table").tBodies[0];
    lines.replaceChildren();
    summary.lines.forEach((line) => {
      const row = lines.insertRow();
      row.dataset.line = line.line_id;
      row.insertCell().textContent = line.line_name;
      factorCells(row, line, "line");
    });
  }

  function renderKpis(total) {
    ["oee", "availability", "performance", "quality"].forEach((field) => {
      const value = document.querySelector(`#kpi-${field} .value`);
      value.textContent = total[field] === null ? "\u2013" : `${fixed(total[field])} %`;
      value.dataset.value = total[field] === null ? "" : String(total[field]);
    });
  }

  function renderLosses(losses) {
    const chart = echart("loss-chart");
    if (!chart) return;
    let level = 0;
    const base = [];
    const bars = [];
    LOSS_STEPS.forEach(([key, , kind]) => {
      const minutes = losses[key];
      if (kind === "total") { base.push(0); bars.push({ value: minutes, itemStyle: { color: "#1d3557" } }); level = minutes; }
      else { level -= minutes; base.push(Math.max(level, 0)); bars.push({ value: minutes, itemStyle: { color: "#e76f51" } }); }
    });
    // Horizontal, top to bottom: each loss hangs from the level the steps above it left.
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 64, top: 8, bottom: 24, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
                 formatter: (items) => `${items[1].name}: ${items[1].value.toFixed(1)} min` },
      yAxis: { type: "category", inverse: true, data: LOSS_STEPS.map((step) => step[1]) },
      xAxis: { type: "value", name: "min", axisLabel: { hideOverlap: true } },
      series: [
        { type: "bar", stack: "w", data: base, itemStyle: { color: "transparent" }, silent: true },
        { type: "bar", stack: "w", data: bars, label: { show: true, position: "right", fontSize: 11,
                                                        formatter: (item) => item.value.toFixed(1) } },
      ],
    }, true);
  }

  function renderPareto(reasons) {
    const top = reasons[0];
    $("pareto-top").textContent = top ? `${top.reason_name || top.reason_code}: ${fixed(top.minutes)} min` : "no unplanned stops";
    $("pareto-top").dataset.minutes = top ? String(top.minutes) : "";
    $("pareto-top").dataset.reason = top ? top.reason_code : "";
    const chart = echart("pareto-chart");
    if (!chart) return;
    const shown = reasons.slice(0, 12);
    chart.setOption({
      animation: false,
      grid: { left: 60, right: 48, top: 24, bottom: 70 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: shown.map((r) => r.reason_name || r.reason_code), axisLabel: { interval: 0, rotate: 30 } },
      yAxis: [{ type: "value", name: "min" }, { type: "value", name: "cum. %", max: 100 }],
      series: [
        { name: "Minutes", type: "bar", data: shown.map((r) => r.minutes), itemStyle: { color: "#e76f51" } },
        { name: "Cumulative %", type: "line", yAxisIndex: 1, data: shown.map((r) => r.cumulative_pct), itemStyle: { color: "#1d3557" } },
      ],
    }, true);
  }

  function renderShifts(shifts) {
    const chart = echart("shift-chart");
    if (!chart) return;
    const shown = shifts.filter((shift) => shift.oee !== null);
    chart.setOption({
      animation: false,
      grid: { left: 40, right: 12, top: 40, bottom: 30 },
      legend: { top: 0 },
      tooltip: { trigger: "axis", valueFormatter: (value) => (value === null ? "\u2013" : `${value.toFixed(1)} %`) },
      xAxis: { type: "category", data: shown.map((s) => s.shift_name || s.shift_id || "outside shifts") },
      yAxis: { type: "value", axisLabel: { formatter: "{value} %" } },
      series: FACTORS.map((factor) => ({
        name: factor.label, type: "bar", itemStyle: { color: factor.color },
        data: shown.map((s) => s[factor.key]),
      })),
    }, true);
  }

  async function refreshTrend() {
    const chosen = selection();
    if (!chosen.from || !chosen.to) return;
    const metric = $("trend-metric").value;
    const params = dashboardParams(chosen, { grain: $("trend-grain").value, group_by: $("trend-by").value });
    const panel = $("trend-chart");
    const request = ++trendRequest;
    panel.setAttribute("aria-busy", "true");
    try {
      const trend = await (await apiFetch(`/api/oee/dashboard/trend?${params}`)).json();
      if (request !== trendRequest) return;
      const chart = echart("trend-chart");
      if (chart) {
        chart.setOption({
          animation: false,
          grid: { left: 48, right: 16, top: 40, bottom: 60 },
          legend: { top: 0, type: "scroll" },
          tooltip: { trigger: "axis", valueFormatter: (value) => (value === null ? "\u2013" : `${value.toFixed(1)} %`) },
          dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
          xAxis: { type: "time" },
          yAxis: { type: "value", name: "%" },
          series: trend.series.map((series) => ({
            name: series.name, type: "line", showSymbol: series.points.length < 60, connectNulls: false,
            data: series.points.map((point) => [point.bucket_start, point[metric]]),
          })),
        }, true);
      }
      panel.dataset.series = String(trend.series.length);
      panel.dataset.error = "";
    } catch (error) {
      if (request !== trendRequest) return;
      if (charts["trend-chart"]) charts["trend-chart"].clear();
      panel.dataset.error = error.message;
      $("dash-status").textContent = `Trend unavailable: ${error.message}`;
    } finally {
      if (request === trendRequest) panel.setAttribute("aria-busy", "false");
    }
  }

  async function refreshChart() {
    const chosen = selection();
    if (!chosen.from || !chosen.to) return;
    const chart = $("chart");
    const request = ++chartRequest;
    chart.setAttribute("aria-busy", "true");
    $("dashboard").setAttribute("aria-busy", "true");
    $("dash-status").textContent = "";
    $("drill").hidden = !chosen.chartMachine;
    $("drill-name").textContent = chosen.chartMachine ? $("machine").selectedOptions[0].textContent : "";
    const trend = refreshTrend();
    try {
      const summary = await (await apiFetch(`/api/oee/dashboard/summary?${dashboardParams(chosen, {})}`)).json();
      if (request !== chartRequest) return;
      const groups = summary.lines
        .filter((line) => line.oee !== null)
        .map((line) => ({ label: line.line_name, values: line }));
      window.OeeChart.render(chart, groups);
      chart.dataset.lines = String(groups.length);
      renderKpis(summary.total);
      renderTables(summary);
      renderLosses(summary.losses);
      renderPareto(summary.downtime_reasons);
      renderShifts(summary.shifts);
      liveFilter = chosen.chartMachine;
    } catch (error) {
      if (request === chartRequest) {
        chart.textContent = `Chart unavailable: ${error.message}`;
        $("dash-status").textContent = `Dashboard unavailable: ${error.message}`;
      }
    } finally {
      await trend;
      if (request === chartRequest) {
        chart.setAttribute("aria-busy", "false");
        $("dashboard").setAttribute("aria-busy", "false");
      }
    }
  }

  // The live tile: the API's WebSocket stream of sensor readings (every sensor type of the key's
  // organization), reconnecting after a drop; a refused key or a missing broker is shown, not retried.
  let liveSocket = null;
  let liveFilter = "";
  let liveCount = 0;
  function setLiveState(text, ok) {
    $("live-state").textContent = text;
    $("live-state").classList.toggle("ok", Boolean(ok));
  }
  function connectLive() {
    if (liveSocket || !apiKey()) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/iot/sensors/all?api_key=${encodeURIComponent(apiKey())}`);
    liveSocket = socket;
    socket.addEventListener("open", () => setLiveState("live", true));
    socket.addEventListener("message", (event) => {
      const reading = JSON.parse(event.data);
      if (liveFilter && reading.machine_id !== liveFilter) return;
      liveCount += 1;
      $("live-value").textContent = `${reading.value} (${reading.sensor_type})`;
      $("live-value").dataset.sensor = reading.sensor_id;
      $("live-value").dataset.value = String(reading.value);
      $("live-detail").textContent = `${reading.sensor_id} on ${reading.machine_id} at ${reading.timestamp}; ${liveCount} readings`;
    });
    socket.addEventListener("close", (event) => {
      liveSocket = null;
      if (event.code === 1013) { setLiveState("no broker"); $("live-detail").textContent = event.reason || "no IoT broker configured"; return; }
      if (event.code === 1008) { setLiveState("refused"); $("live-detail").textContent = "the stream refused the key"; return; }
      setLiveState("reconnecting");
      if (apiKey()) setTimeout(connectLive, 5000);
    });
  }

  async function start() {
    $("key-form").hidden = true;
    $("workspace").hidden = false;
    $("forget-key").hidden = false;
    applyPreset();
    connectLive();
    try {
      await loadMachines();
      await refreshChart();
    } catch (error) {
      showStatus(error.message, true);
    }
  }

  function toggleMenu(open) {
    $("export-menu").hidden = !open;
    $("export-button").setAttribute("aria-expanded", String(open));
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    $("api-key").value = "";
    start();
  });
  $("forget-key").addEventListener("click", showKeyForm);
  $("preset").addEventListener("change", () => { applyPreset(); refreshChart(); });
  ["date-from", "date-to"].forEach((id) => $(id).addEventListener("change", () => {
    $("preset").value = "custom";
    refreshChart();
  }));
  $("machine").addEventListener("change", refreshChart);
  ["trend-metric", "trend-by", "trend-grain"].forEach((id) => $(id).addEventListener("change", refreshTrend));
  function drillDown(event) {
    const row = event.target.closest("tr[data-machine]");
    if (!row || (event.type === "keydown" && event.key !== "Enter")) return;
    $("machine").value = row.dataset.machine;
    refreshChart();
  }
  $("machine-table").addEventListener("click", drillDown);
  $("machine-table").addEventListener("keydown", drillDown);
  $("drill-back").addEventListener("click", () => { $("machine").value = ""; refreshChart(); });
  window.addEventListener("resize", () => Object.values(charts).forEach((chart) => chart.resize()));
  $("table").addEventListener("change", () => {
    const perMachine = $("table").value === "snapshots";
    $("machine-hint").hidden = perMachine;
  });
  $("export-button").addEventListener("click", () => toggleMenu($("export-menu").hidden));
  $("export-menu").addEventListener("click", (event) => {
    const format = event.target.dataset && event.target.dataset.format;
    if (!format) return;
    toggleMenu(false);
    download(format);
  });

  if (apiKey()) start(); else showKeyForm();
})();
