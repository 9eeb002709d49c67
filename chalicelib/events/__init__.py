"""Events to the deployment's backend: the table stream read, signed (Standard Webhooks) and POSTed."""
