"""One module per API resource: models, pure request builders, and a thin service."""
