"""Provider connectors: config, payloads, HTTP delivery with retries, redacted evidence."""
