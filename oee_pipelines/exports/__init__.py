"""Export formats shared by the API and the export assets: column definitions and streaming writers."""
