// The import wizard: asks for the API key once (sessionStorage only), offers the type's templates, checks
// the chosen file with a dry run (`dry_run=true`: the import's own report, nothing written), lists every
// bad row with its field and reason, and on confirmation sends the same file to the real import and shows
// the import job. Everything goes to this server's API; nothing is loaded from elsewhere.
(() => {
  "use strict";

  const KEY_STORAGE = "oee_api_key";
  const TEMPLATES = {
    sensor_log: ["csv"],
    machine_state_log: ["csv", "xlsx"],
    production_count: ["csv", "xlsx"],
    downtime: ["xlsx"],
    schedule: ["csv"],
  };
  const EXCEL = /\.(xlsx|xlsm)$/i;
  const $ = (id) => document.getElementById(id);
  const apiKey = () => sessionStorage.getItem(KEY_STORAGE);
  let checkedFile = null; // the file the last successful check was for

  function showKeyForm() {
    sessionStorage.removeItem(KEY_STORAGE);
    $("wizard").hidden = true;
    $("forget-key").hidden = true;
    $("key-form").hidden = false;
    $("api-key").focus();
  }

  function start() {
    $("key-form").hidden = true;
    $("wizard").hidden = false;
    $("forget-key").hidden = false;
    renderTemplates();
  }

  function setStatus(message) {
    $("status").textContent = message || "";
  }

  async function call(url, options = {}) {
    const headers = { ...(options.headers || {}), "X-API-Key": apiKey() };
    const response = await fetch(url, { ...options, headers });
    if (response.status === 401) {
      showKeyForm();
      throw new Error("the API key was refused; enter a valid key");
    }
    if (response.status === 403) {
      throw new Error("this API key may not import: use a key created with --scope admin");
    }
    return response;
  }

  function renderTemplates() {
    const box = $("templates");
    box.replaceChildren();
    const kind = $("import-type").value;
    for (const format of TEMPLATES[kind]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "template";
      button.dataset.format = format;
      button.textContent = `Download the ${format.toUpperCase()} template`;
      button.addEventListener("click", () => downloadTemplate(kind, format).catch((e) => setStatus(e.message)));
      box.append(button);
    }
  }

  async function downloadTemplate(kind, format) {
    setStatus("");
    const params = new URLSearchParams({ type: kind, format });
    const response = await call(`/api/import/template/?${params}`);
    if (!response.ok) throw new Error(`the template could not be downloaded (HTTP ${response.status})`);
    const match = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = match ? match[1] : `${kind}_template.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  function uploadUrl(file, dryRun) {
    const params = new URLSearchParams({
      type: $("import-type").value,
      quarantine_invalid: String($("quarantine").checked),
      dry_run: String(dryRun),
    });
    const excel = EXCEL.test(file.name);
    const encoding = $("encoding").value.trim();
    if (encoding && !excel) params.set("encoding", encoding);
    return `/api/import/${excel ? "excel" : "csv"}/?${params}`;
  }

  async function upload(file, dryRun) {
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await call(uploadUrl(file, dryRun), { method: "POST", body: form });
    let body;
    try {
      body = await response.json();
    } catch (error) {
      throw new Error(`the server answered HTTP ${response.status} without a report`);
    }
    if (!("status" in body)) {
      // A refusal before the file was read (too large, bad parameter): the API names the field.
      throw new Error(body.detail || `the server answered HTTP ${response.status}`);
    }
    return body;
  }

  function fillBadRows(report) {
    const tbody = $("bad-rows").querySelector("tbody");
    tbody.replaceChildren();
    for (const error of report.errors) {
      const tr = document.createElement("tr");
      const cells = [
        error.row === null ? "file" : String(error.row),
        error.column === null ? "" : error.column,
        error.value === null ? "" : error.value,
        error.reason,
      ];
      cells.forEach((text, index) => {
        const td = document.createElement("td");
        td.textContent = text; // user text: never parsed as HTML
        if (index === 0) td.className = "row";
        tr.append(td);
      });
      tbody.append(tr);
    }
    $("bad-rows").hidden = report.errors.length === 0;
    const counts = $("error-counts");
    counts.replaceChildren();
    if (report.truncated) {
      for (const [kind, count] of Object.entries(report.error_counts)) {
        const li = document.createElement("li");
        li.textContent = `${count.toLocaleString()} x ${kind}`;
        counts.append(li);
      }
    }
    $("truncated").hidden = !report.truncated;
    $("truncated").textContent = report.truncated
      ? `The first ${report.errors.length.toLocaleString()} of ${report.total_errors.toLocaleString()} problems are listed; every one is counted above.`
      : "";
  }

  function showCheck(report, file) {
    $("check-step").hidden = false;
    $("result-step").hidden = true;
    fillBadRows(report);
    const summary = $("check-summary");
    const willLand = report.status === "SUCCESS" || report.status === "PARTIAL";
    if (report.status === "SUCCESS") {
      summary.textContent = `${report.file_name}: ${report.rows_read.toLocaleString()} rows, all valid.`;
    } else if (report.status === "PARTIAL") {
      summary.textContent = `${report.file_name}: ${report.total_bad_rows.toLocaleString()} bad rows (listed below) would be set aside; ${report.rows_imported.toLocaleString()} of ${report.rows_read.toLocaleString()} rows would be imported.`;
    } else {
      summary.textContent = `${report.file_name}: ${report.total_bad_rows.toLocaleString()} bad rows, ${report.total_errors.toLocaleString()} problems. Nothing can be imported: fix the rows below and check the file again.`;
    }
    summary.className = report.status === "REJECTED" ? "bad" : "ok";
    const confirm = $("confirm-button");
    confirm.disabled = !willLand;
    $("confirm-hint").hidden = !willLand;
    confirm.textContent = willLand ? `Import ${report.rows_imported.toLocaleString()} rows` : "Import";
    checkedFile = willLand ? file : null;
  }

  function showResult(report) {
    $("result-step").hidden = false;
    const dl = $("job-result");
    dl.replaceChildren();
    const facts = [
      ["Import job", report.job_id === null ? "none" : String(report.job_id)],
      ["Status", report.status],
      ["File", report.file_name],
      ["Rows read", report.rows_read.toLocaleString()],
      ["Rows imported", report.rows_imported.toLocaleString()],
      ["Rows set aside", report.rows_rejected.toLocaleString()],
      ["Days touched (UTC)", report.affected_days.length ? report.affected_days.join(", ") : "-"],
    ];
    for (const [term, value] of facts) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.dataset.fact = term;
      dl.append(dt, dd);
    }
    const landed = report.status === "SUCCESS" || report.status === "PARTIAL";
    const message = $("result-message");
    message.textContent = landed
      ? `Imported: ${report.rows_imported.toLocaleString()} rows landed (import job ${report.job_id}).`
      : `Nothing was imported: ${report.errors[0] ? report.errors[0].reason : report.status}.`;
    message.className = landed ? "ok" : "bad";
    if (!landed) fillBadRows(report);
  }

  $("check-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setStatus("");
    const file = $("file").files[0];
    if (!file) return;
    $("check-button").disabled = true;
    try {
      showCheck(await upload(file, true), file);
    } catch (error) {
      setStatus(error.message);
    } finally {
      $("check-button").disabled = false;
    }
  });

  $("confirm-button").addEventListener("click", async () => {
    if (!checkedFile) return;
    setStatus("");
    $("confirm-button").disabled = true;
    try {
      showResult(await upload(checkedFile, false));
      checkedFile = null; // one import per check
      $("confirm-hint").hidden = true;
    } catch (error) {
      setStatus(error.message);
      $("confirm-button").disabled = false;
    }
  });

  // A changed choice invalidates the check: the person checks again before importing.
  for (const id of ["import-type", "file", "encoding", "quarantine"]) {
    $(id).addEventListener("change", () => {
      checkedFile = null;
      $("confirm-button").disabled = true;
      $("check-step").hidden = true;
      $("result-step").hidden = true;
      if (id === "import-type") renderTemplates();
    });
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    $("api-key").value = "";
    start();
  });
  $("forget-key").addEventListener("click", showKeyForm);

  if (apiKey()) start(); else showKeyForm();
})();
