"""Alert ingestion: one module per sender format, each turning a request body into AlertEvents."""
