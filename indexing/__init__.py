"""Index-time stages: documents -> chunks -> vectors -> store."""
