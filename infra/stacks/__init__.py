"""One module per stack: storage, streaming, ingestion, warehouse, batch, monitoring (deployment order)."""
