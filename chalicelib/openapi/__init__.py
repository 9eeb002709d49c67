"""The OpenAPI 3.1 document served at /openapi.json: its paths, schemas and error codes."""
