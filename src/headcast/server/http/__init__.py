"""HTTP plumbing every route shares: keys and rate limits, admission, body and head limits,
errors as JSON, metrics, log redaction, upload and media checks, work slots."""
