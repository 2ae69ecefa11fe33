// Lines: the production lines (dimension).
// Parameters (Home > Manage Parameters): OeeServiceUrl (Text, e.g. "https://oee.example.com/odata/")
// Credentials: Web API, the API key (sent as the api_key query parameter, stored by Power BI).
let
    Source = OData.Feed(OeeServiceUrl, null, [Implementation = "2.0", ApiKeyName = "api_key"]),
    Lines = Source{[Name = "Lines", Signature = "table"]}[Data]
in
    Lines
