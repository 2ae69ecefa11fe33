// Shifts: the shift definitions (dimension; start and end are local times of the site).
// Parameters (Home > Manage Parameters): OeeServiceUrl (Text, e.g. "https://oee.example.com/odata/")
// Credentials: Web API, the API key (sent as the api_key query parameter, stored by Power BI).
let
    Source = OData.Feed(OeeServiceUrl, null, [Implementation = "2.0", ApiKeyName = "api_key"]),
    Shifts = Source{[Name = "Shifts", Signature = "table"]}[Data]
in
    Shifts
