// Downtime: stops by start time: reason, loss category, planned or not, duration in minutes.
// Parameters (Home > Manage Parameters): OeeServiceUrl (Text, e.g. "https://oee.example.com/odata/")
// and, for incremental refresh, RangeStart and RangeEnd (Date/Time). Credentials: Web API, the key.
let
    Source = OData.Feed(OeeServiceUrl, null, [Implementation = "2.0", ApiKeyName = "api_key"]),
    Downtime = Source{[Name = "Downtime", Signature = "table"]}[Data],
    // >= on the start, < on the end: consecutive partitions neither overlap nor leave a gap.
    // The filter folds into $filter=start_time ge ... and start_time lt ..., evaluated by the API.
    InRange = Table.SelectRows(
        Downtime,
        each [start_time] >= DateTime.AddZone(RangeStart, 0) and [start_time] < DateTime.AddZone(RangeEnd, 0)
    )
in
    InRange
