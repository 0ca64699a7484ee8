"""The local runtime: the demo, the API Gateway stand-in that runs the ingestion Lambda, the event replay client."""
