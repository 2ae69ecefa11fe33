// DailyMachineOee: time-weighted OEE per machine per UTC day, with the sums it is computed from.
// Parameters (Home > Manage Parameters): OeeServiceUrl (Text, e.g. "https://oee.example.com/odata/")
// and, for incremental refresh, RangeStart and RangeEnd (Date/Time). Credentials: Web API, the key.
let
    Source = OData.Feed(OeeServiceUrl, null, [Implementation = "2.0", ApiKeyName = "api_key"]),
    DailyMachineOee = Source{[Name = "DailyMachineOee", Signature = "table"]}[Data],
    // >= on the start, < on the end: consecutive partitions neither overlap nor leave a gap.
    // The filter folds into $filter=day ge ... and day lt ..., evaluated by the API.
    InRange = Table.SelectRows(
        DailyMachineOee,
        each [day] >= Date.From(RangeStart) and [day] < Date.From(RangeEnd)
    )
in
    InRange
