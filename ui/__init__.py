"""Streamlit pages and rendering only: calls the pipeline, holds no logic."""
