"""The local runtime: the API Gateway stand-in that runs the ingestion Lambda, and the event replay client."""
