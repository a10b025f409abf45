"""Training of the readers on SQuAD-format data (the fixed article split of qa_app/data/squad.py)."""
