// The export page: asks for the API key once (sessionStorage only), downloads the API's own export
// files, and charts time-weighted OEE per line from the OData feed's daily sums.
(function () {
  "use strict";
  const KEY_STORAGE = "oee_api_key";
  const MAX_PAGES = 1000;
  const $ = (id) => document.getElementById(id);

  let chartRequest = 0; // only the latest chart request may draw: answers can arrive out of order

  const apiKey = () => sessionStorage.getItem(KEY_STORAGE);

  function showStatus(message, isError) {
    $("status").textContent = message;
    $("status").classList.toggle("error", Boolean(isError));
  }

  function showKeyForm() {
    sessionStorage.removeItem(KEY_STORAGE);
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
  const odataString = (text) => `'${text.replaceAll("'", "''")}'`;

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

  function factors(sums) {
    if (!(sums.planned > 0)) return null;
    const availability = (100 * sums.run) / sums.planned;
    const performance = sums.run > 0 && sums.total > 0 ? (100 * sums.ideal) / sums.run : null;
    const quality = sums.run > 0 && sums.total > 0 ? (100 * sums.good) / sums.total : null;
    const oee = performance === null ? 0 : (availability * performance * quality) / 10000;
    return { oee, availability, performance, quality };
  }

  async function refreshChart() {
    const chosen = selection();
    if (!chosen.from || !chosen.to) return;
    let filter = `day ge ${chosen.from} and day le ${chosen.to}`;
    if (chosen.chartMachine) filter += ` and machine_id eq ${odataString(chosen.chartMachine)}`;
    const select = "line_id,line_name,planned_production_time,actual_production_time,ideal_production_time,total_pieces,good_pieces";
    const chart = $("chart");
    const request = ++chartRequest;
    chart.setAttribute("aria-busy", "true");
    try {
      const rows = await odataRows(`/odata/DailyMachineOee?$filter=${encodeURIComponent(filter)}&$select=${select}`);
      if (request !== chartRequest) return;
      const lines = new Map();
      rows.forEach((row) => {
        const sums = lines.get(row.line_id) || { label: row.line_name, planned: 0, run: 0, ideal: 0, total: 0, good: 0 };
        sums.planned += row.planned_production_time;
        sums.run += row.actual_production_time;
        sums.ideal += row.ideal_production_time;
        sums.total += row.total_pieces;
        sums.good += row.good_pieces;
        lines.set(row.line_id, sums);
      });
      const groups = [...lines.values()]
        .map((sums) => ({ label: sums.label, values: factors(sums) }))
        .filter((group) => group.values !== null)
        .sort((a, b) => a.label.localeCompare(b.label));
      window.OeeChart.render(chart, groups);
      chart.dataset.lines = String(groups.length);
    } catch (error) {
      if (request === chartRequest) chart.textContent = `Chart unavailable: ${error.message}`;
    } finally {
      if (request === chartRequest) chart.setAttribute("aria-busy", "false");
    }
  }

  async function start() {
    $("key-form").hidden = true;
    $("workspace").hidden = false;
    $("forget-key").hidden = false;
    applyPreset();
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
