"""Training of the readers on SQuAD-format data (the fixed article split of DESIGN §2)."""
