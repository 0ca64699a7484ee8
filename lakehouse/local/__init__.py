"""Local tooling on top of every stage: embedded AWS, the API Gateway stand-in, replay, generator, demo, CLI."""
