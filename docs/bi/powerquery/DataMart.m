// DataMart: the denormalized OEE data mart (snapshot with machine, line, shift, work order, downtime).
// Parameters (Home > Manage Parameters): OeeServiceUrl (Text, e.g. "https://oee.example.com/odata/")
// and, for incremental refresh, RangeStart and RangeEnd (Date/Time). Credentials: Web API, the key.
let
    Source = OData.Feed(OeeServiceUrl, null, [Implementation = "2.0", ApiKeyName = "api_key"]),
    DataMart = Source{[Name = "DataMart", Signature = "table"]}[Data],
    // >= on the start, < on the end: consecutive partitions neither overlap nor leave a gap.
    // The filter folds into $filter=snapshot_time ge ... and snapshot_time lt ..., evaluated by the API.
    InRange = Table.SelectRows(
        DataMart,
        each [snapshot_time] >= DateTime.AddZone(RangeStart, 0) and [snapshot_time] < DateTime.AddZone(RangeEnd, 0)
    )
in
    InRange
