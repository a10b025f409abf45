"""Readers: extract answer spans from windows. Heavy models load lazily in adapter modules."""
