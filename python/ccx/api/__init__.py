"""The HTTP API: RSGI app served by granian, routing, problem+json errors, OpenAPI."""
