// ShiftReports: one row per line per shift, by shift start.
// Parameters (Home > Manage Parameters): OeeServiceUrl (Text, e.g. "https://oee.example.com/odata/")
// and, for incremental refresh, RangeStart and RangeEnd (Date/Time). Credentials: Web API, the key.
let
    Source = OData.Feed(OeeServiceUrl, null, [Implementation = "2.0", ApiKeyName = "api_key"]),
    ShiftReports = Source{[Name = "ShiftReports", Signature = "table"]}[Data],
    // >= on the start, < on the end: consecutive partitions neither overlap nor leave a gap.
    // The filter folds into $filter=shift_start ge ... and shift_start lt ..., evaluated by the API.
    InRange = Table.SelectRows(
        ShiftReports,
        each [shift_start] >= DateTime.AddZone(RangeStart, 0) and [shift_start] < DateTime.AddZone(RangeEnd, 0)
    )
in
    InRange
