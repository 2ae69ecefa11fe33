// Tableau Web Data Connector 2.0 over the OData feed: one Tableau table per entity set, columns and
// types from $metadata, rows paged with @odata.nextLink, incremental refresh on snapshot_time.
(function () {
  "use strict";
  const LIBRARY = "tableauwdc-2.0.latest.js"; // served by the sidecar when an operator installed it
  const MAX_PAGES = 10000;
  const TABLES = ["Snapshots", "DataMart", "Downtime", "ShiftReports", "DailyMachineOee", "Machines", "Lines", "Shifts"];
  const RANGE_COLUMN = { Snapshots: "snapshot_time", DataMart: "snapshot_time", Downtime: "start_time",
                         ShiftReports: "shift_start", DailyMachineOee: "day" };
  const INCREMENT_COLUMN = { Snapshots: "snapshot_time", DataMart: "snapshot_time" };

  function tableauType(edmType) {
    const types = tableau.dataTypeEnum;
    return {
      "Edm.String": types.string, "Edm.Int32": types.int, "Edm.Int64": types.int, "Edm.Decimal": types.float,
      "Edm.Double": types.float, "Edm.Boolean": types.bool, "Edm.Date": types.date,
      "Edm.DateTimeOffset": types.datetime, "Edm.TimeOfDay": types.string,
    }[edmType] || types.string;
  }

  async function apiFetch(url) {
    const response = await fetch(url, { headers: { "X-API-Key": tableau.password } });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
    return response;
  }

  // "2025-01-15T00:15:00Z" -> "2025-01-15 00:15:00", the datetime form Tableau reads (UTC).
  const tableauDatetime = (text) => (text ? text.replace("T", " ").replace("Z", "") : text);
  // Tableau hands the increment back in its own form; OData wants ISO 8601 with an offset.
  const odataDatetime = (text) => `${String(text).trim().replace(" ", "T").replace(/Z$/, "")}Z`;

  async function schemaFromMetadata() {
    const xml = new DOMParser().parseFromString(await (await apiFetch("/odata/$metadata")).text(), "application/xml");
    const types = {};
    xml.querySelectorAll("EntityType").forEach((entityType) => {
      types[entityType.getAttribute("Name")] = [...entityType.querySelectorAll("Property")].map((property) => ({
        id: property.getAttribute("Name"),
        edm: property.getAttribute("Type"),
      }));
    });
    const sets = {};
    xml.querySelectorAll("EntitySet").forEach((entitySet) => {
      sets[entitySet.getAttribute("Name")] = entitySet.getAttribute("EntityType").split(".").pop();
    });
    return TABLES.filter((name) => sets[name]).map((name) => {
      const table = {
        id: name,
        alias: `OEE ${name}`,
        columns: types[sets[name]].map((column) => ({ id: column.id, dataType: tableauType(column.edm) })),
      };
      if (INCREMENT_COLUMN[name]) table.incrementColumnId = INCREMENT_COLUMN[name];
      return table;
    });
  }

  function firstUrl(table) {
    const settings = JSON.parse(tableau.connectionData || "{}");
    const name = table.tableInfo.id;
    const conditions = [];
    const rangeColumn = RANGE_COLUMN[name];
    if (rangeColumn && settings.from && settings.to) {
      const isDay = rangeColumn === "day";
      const end = new Date(Date.parse(`${settings.to}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
      conditions.push(isDay ? `day ge ${settings.from}` : `${rangeColumn} ge ${settings.from}T00:00:00Z`);
      conditions.push(isDay ? `day lt ${end}` : `${rangeColumn} lt ${end}T00:00:00Z`);
    }
    if (INCREMENT_COLUMN[name] && table.incrementValue) {
      conditions.push(`${INCREMENT_COLUMN[name]} gt ${odataDatetime(table.incrementValue)}`);
    }
    const filter = conditions.length ? `?$filter=${encodeURIComponent(conditions.join(" and "))}` : "";
    return `/odata/${name}${filter}`;
  }

  function tableauRows(rows, columns) {
    const datetimes = columns.filter((column) => column.dataType === tableau.dataTypeEnum.datetime).map((c) => c.id);
    return rows.map((row) => {
      datetimes.forEach((id) => { row[id] = tableauDatetime(row[id]); });
      return row;
    });
  }

  const connector = tableau.makeConnector();

  connector.getSchema = function (schemaCallback) {
    schemaFromMetadata().then(schemaCallback, (error) => tableau.abortWithError(String(error)));
  };

  connector.getData = function (table, doneCallback) {
    (async () => {
      let next = firstUrl(table);
      let appended = 0;
      for (let page = 0; next && page < MAX_PAGES; page += 1) {
        const body = await (await apiFetch(next)).json();
        table.appendRows(tableauRows(body.value, table.tableInfo.columns));
        appended += body.value.length;
        tableau.reportProgress(`${table.tableInfo.id}: ${appended.toLocaleString()} rows`);
        next = body["@odata.nextLink"];
      }
      doneCallback();
    })().catch((error) => tableau.abortWithError(String(error)));
  };

  tableau.registerConnector(connector);

  document.getElementById("wdc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    tableau.password = document.getElementById("api-key").value.trim();
    tableau.connectionData = JSON.stringify({
      from: document.getElementById("date-from").value,
      to: document.getElementById("date-to").value,
    });
    tableau.connectionName = "OEE data";
    tableau.submit();
  });
})();
