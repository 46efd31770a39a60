"""The QaaS API: HTTP client, error mapping, and sign-in."""
