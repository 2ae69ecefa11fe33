"""The OData v4 feed (`/odata/`): the OEE tables for Power BI's and Excel's `OData.Feed` and any v4 client."""
